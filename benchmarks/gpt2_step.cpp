// SPDX-License-Identifier: MIT
// Model benchmark: tokens/s of a training step (forward + backward over a packed batch, every
// position scored) and of forward-only scoring, plus the machine's measured fp32 GEMM peak and the
// fraction of it the training step reaches. Prints one JSON line.
//
//   bench_gpt2_step --config small --seq-len 256 --batch 4 --steps 5 --warmup 1
//   bench_gpt2_step --config 124m --seq-len 512 --batch 1
//
// benchmarks/run_model_benchmark.sh runs it next to the PyTorch peer in the same invocation.
#include <boost/program_options.hpp>

#include <cstdio>
#include <iostream>
#include <string>

#include "bench_common.hpp"
#include "prefopt/core/random.hpp"
#include "prefopt/device/cpu.hpp"
#include "prefopt/model/gpt2.hpp"

namespace po = boost::program_options;
using namespace prefopt;

namespace {

// Best fp32 GEMM rate over shapes the 124M step uses (Eigen, all threads).
double measure_gemm_gflops() {
  double best = 0;
  const index_t shapes[][3] = {{512, 768, 3072}, {512, 3072, 768}, {512, 768, 2304}, {1024, 1024, 1024}};
  for (const auto& s : shapes) {
    const index_t M = s[0], K = s[1], N = s[2];
    cpu::RowMatrix<float> a = cpu::RowMatrix<float>::Random(M, K), b = cpu::RowMatrix<float>::Random(K, N), c(M, N);
    const double t = bench::time_median(2, 7, [&] { c.noalias() = a * b; });
    best = std::max(best, 2.0 * M * K * N / t / 1e9);
  }
  return best;
}

// FLOPs of one forward over N tokens in sequences of length T, all N positions scored, counting
// attention's QK^T and PV as the full (T, T) products the kernels compute.
double forward_flops(const Gpt2Config& c, index_t N, index_t T) {
  const double C = c.n_embd, F = c.mlp_width(), V = c.vocab_size, L = c.n_layer;
  const double dense = 2.0 * N * L * (C * 3 * C + C * C + 2 * C * F);
  const double attention = 2.0 * 2.0 * L * (static_cast<double>(N) / T) * T * T * C;
  const double head = 2.0 * N * C * V;
  return dense + attention + head;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_name = "small";
  index_t seq_len = 256, batch = 4;
  int steps = 5, warmup = 1;
  bool gemm = true;
  po::options_description opts("bench_gpt2_step options");
  opts.add_options()("help", "show this help")
      ("config", po::value(&config_name)->default_value(config_name), "small (4 layers, 4 heads, 256 wide) or 124m")
      ("seq-len", po::value(&seq_len)->default_value(seq_len), "tokens per sequence")
      ("batch", po::value(&batch)->default_value(batch), "sequences per step (packed)")
      ("steps", po::value(&steps)->default_value(steps), "timed steps (median reported)")
      ("warmup", po::value(&warmup)->default_value(warmup), "untimed steps first")
      ("gemm-peak", po::value(&gemm)->default_value(gemm), "also measure the fp32 GEMM peak");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "bench_gpt2_step: " << e.what() << "\n" << opts;
    return 2;
  }
  if (vm.count("help")) {
    std::cout << opts;
    return 0;
  }
  Gpt2Config config;
  if (config_name == "small") config = Gpt2Config::small();
  else if (config_name == "124m") config = Gpt2Config::gpt2_124m();
  else {
    std::cerr << "bench_gpt2_step: --config must be small or 124m, got " << config_name << "\n";
    return 2;
  }

  try {
    Gpt2<CpuDevice, float> model(config);
    model.init_random(0);
    std::fprintf(stderr, "bench_gpt2_step: %s, %lld parameters, %lld x %lld tokens, %d threads\n",
                 config_name.c_str(), static_cast<long long>(model.num_parameters()),
                 static_cast<long long>(batch), static_cast<long long>(seq_len), max_threads());
    Random rng(1);
    PackedBatch packed;
    for (index_t b = 0; b < batch; ++b) {
      std::vector<token_t> seq(seq_len), targets(seq_len);
      for (auto& t : seq) t = static_cast<token_t>(rng.below(config.vocab_size));
      for (auto& t : targets) t = static_cast<token_t>(rng.below(config.vocab_size));
      packed.add_sequence(seq, targets);  // every position scored, as the PyTorch peer does
    }
    const index_t N = packed.n_tokens();
    std::vector<float> logps(N), weights(N);
    for (auto& w : weights) w = static_cast<float>(rng.normal());

    const double train_s = bench::time_median(warmup, steps, [&] {
      model.zero_gradients();
      model.backward(model.forward(packed, logps.data()), weights.data());
    });
    const double forward_s = bench::time_median(warmup, steps, [&] {
      model.forward(packed, logps.data(), ForwardMode::inference);
    });
    const double gemm_peak = gemm ? measure_gemm_gflops() : 0.0;
    const double step_gflops = 3.0 * forward_flops(config, N, seq_len) / train_s / 1e9;
    std::printf(
        "{\"impl\":\"prefopt\",\"device\":\"cpu\",\"threads\":%d,\"config\":\"%s\",\"parameters\":%lld,"
        "\"seq_len\":%lld,\"batch\":%lld,\"steps\":%d,\"train_tokens_per_s\":%.1f,\"train_step_s_median\":%.4f,"
        "\"forward_tokens_per_s\":%.1f,\"forward_step_s_median\":%.4f,\"train_gflops\":%.1f,"
        "\"gemm_peak_gflops\":%.1f,\"fraction_of_gemm_peak\":%.3f,\"activation_mib\":%.1f,\"peak_rss_mib\":%.1f}\n",
        max_threads(), config_name.c_str(), static_cast<long long>(model.num_parameters()),
        static_cast<long long>(seq_len), static_cast<long long>(batch), steps, N / train_s, train_s,
        N / forward_s, forward_s, step_gflops, gemm_peak, gemm ? step_gflops / gemm_peak : 0.0,
        model.activation_bytes() / 1048576.0, bench::peak_rss_mib());
  } catch (const std::exception& e) {
    std::cerr << "bench_gpt2_step: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
