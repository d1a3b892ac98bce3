// SPDX-License-Identifier: MIT
// The model benchmark on any device: tokens/s of a training step (gradients zeroed, forward +
// backward over a packed batch, every position scored) and of forward-only scoring, plus the
// device's measured fp32 GEMM peak and the fraction of it the training step reaches. Prints one
// JSON line. Mains: gpt2_step.cpp (bench_gpt2_step, CpuDevice) and cuda_step.cu
// (`bench_cuda_step train`, CudaDevice); both take the same flags.
//
// Device rules: the buffers handed to the model (token log-probs, token weights) are the device's
// own memory (Device::vector, filled with copy_from_host); every timed span ends with
// device.synchronize() before the clock is read (a no-op on the CPU); the GEMM peak is the
// device's own matmul_forward (Eigen on the CPU, cuBLAS SGEMM on CUDA) on the same shapes.
#pragma once

#include <boost/program_options.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "prefopt/core/random.hpp"
#include "prefopt/model/gpt2.hpp"

namespace prefopt::bench {

/// GFLOP/s of the device's matmul_forward, (M, K) x (K, N) fp32, median of 7 timed calls after 2
/// (each call synchronized). A call shorter than 5 ms is repeated inside the timed span so that
/// the clock and the synchronization do not dominate (on the CPU every shape here takes longer,
/// so it is timed one call at a time as before).
template <class Device>
double gemm_gflops(const Device& device, index_t M, index_t K, index_t N) {
  Random rng(static_cast<std::uint64_t>(M * 7919 + K * 31 + N));
  std::vector<float> ha(static_cast<std::size_t>(M * K)), hb(static_cast<std::size_t>(K * N));
  for (auto& x : ha) x = static_cast<float>(2.0 * rng.uniform() - 1.0);
  for (auto& x : hb) x = static_cast<float>(2.0 * rng.uniform() - 1.0);
  typename Device::template vector<float> a(ha.size()), b(hb.size()), c(static_cast<std::size_t>(M * N));
  device.copy_from_host(ha.data(), M * K, a.data());
  device.copy_from_host(hb.data(), K * N, b.data());
  auto once = [&] {
    matmul_forward(device, c.data(), static_cast<const float*>(a.data()), static_cast<const float*>(b.data()),
                   static_cast<const float*>(nullptr), M, K, N, WeightLayout::in_out);
  };
  once();
  device.synchronize();
  const double t0 = now_seconds();
  once();
  device.synchronize();
  const double single = now_seconds() - t0;
  const int reps = single >= 5e-3 ? 1 : std::min(1000, static_cast<int>(std::ceil(5e-3 / std::max(single, 1e-7))));
  const double t = time_median_synced(device, 2, 7, [&] {
    for (int r = 0; r < reps; ++r) once();
  });
  return 2.0 * M * K * N * reps / t / 1e9;
}

/// Best fp32 GEMM rate over shapes the 124M step uses at 512 rows, and 1024³.
template <class Device>
double measure_gemm_gflops(const Device& device) {
  double best = 0;
  const index_t shapes[][3] = {{512, 768, 3072}, {512, 3072, 768}, {512, 768, 2304}, {1024, 1024, 1024}};
  for (const auto& s : shapes) best = std::max(best, gemm_gflops(device, s[0], s[1], s[2]));
  return best;
}

/// The same over the 124M step's shapes at `rows` rows (the batch's tokens), and the vocabulary
/// projection (rows, 768) x (768, 50257).
template <class Device>
double measure_gemm_gflops_at(const Device& device, index_t rows) {
  double best = 0;
  const index_t shapes[][2] = {{768, 3072}, {3072, 768}, {768, 2304}, {768, 50257}};
  for (const auto& s : shapes) best = std::max(best, gemm_gflops(device, rows, s[0], s[1]));
  return best;
}

/// FLOPs of one forward over N tokens in sequences of length T, all N positions scored, counting
/// attention's QK^T and PV as the full (T, T) products the kernels compute.
inline double forward_flops(const Gpt2Config& c, index_t N, index_t T) {
  const double C = c.n_embd, F = c.mlp_width(), V = c.vocab_size, L = c.n_layer;
  const double dense = 2.0 * N * L * (C * 3 * C + C * C + 2 * C * F);
  const double attention = 2.0 * 2.0 * L * (static_cast<double>(N) / T) * T * T * C;
  const double head = 2.0 * N * C * V;
  return dense + attention + head;
}

/// `,"key":value` for every field of a JSON object (empty for an empty one).
inline std::string json_tail(const nlohmann::ordered_json& fields) {
  std::string s;
  for (auto it = fields.begin(); it != fields.end(); ++it) s += "," + nlohmann::json(it.key()).dump() + ":" + it.value().dump();
  return s;
}

template <class Device>
int run_gpt2_step(int argc, char** argv, const RunOptions& ro) {
  namespace po = boost::program_options;
  const char* prog = ro.program.c_str();
  std::string config_name = "small";
  index_t seq_len = 256, batch = 4;
  int steps = 5, warmup = 1;
  bool gemm = true;
  po::options_description opts(ro.program + " options");
  opts.add_options()("help", "show this help")
      ("config", po::value(&config_name)->default_value(config_name), "small (4 layers, 4 heads, 256 wide) or 124m")
      ("seq-len", po::value(&seq_len)->default_value(seq_len), "tokens per sequence")
      ("batch", po::value(&batch)->default_value(batch), "sequences per step (packed)")
      ("steps", po::value(&steps)->default_value(steps), "timed steps (median reported)")
      ("warmup", po::value(&warmup)->default_value(warmup), "untimed steps first")
      ("gemm-peak", po::value(&gemm)->default_value(gemm), "also measure the fp32 GEMM peak");
  po::variables_map vm;
  if (const auto status = bench::parse_flags(opts, argc, argv, vm, prog)) return *status;
  const std::optional<Gpt2Config> maybe_config = bench::config_by_name(config_name, prog);
  if (!maybe_config) return 2;
  const Gpt2Config config = *maybe_config;
  if (const int status = ro.device_ready(); status != 0) return status;

  try {
    const Device device{};
    Gpt2<Device, float> model(config, device);
    model.init_random(0);
    std::fprintf(stderr, "%s: %s, %lld parameters, %lld x %lld tokens, %d threads, device %s\n", prog,
                 config_name.c_str(), static_cast<long long>(model.num_parameters()), static_cast<long long>(batch),
                 static_cast<long long>(seq_len), max_threads(), Device::name);
    Random rng(1);
    PackedBatch packed;
    for (index_t b = 0; b < batch; ++b) {
      std::vector<token_t> seq(seq_len), targets(seq_len);
      for (auto& t : seq) t = static_cast<token_t>(rng.below(config.vocab_size));
      for (auto& t : targets) t = static_cast<token_t>(rng.below(config.vocab_size));
      packed.add_sequence(seq, targets);  // every position scored, as the PyTorch peer does
    }
    const index_t N = packed.n_tokens();
    std::vector<float> host_weights(static_cast<std::size_t>(N));
    for (auto& w : host_weights) w = static_cast<float>(rng.normal());
    // The model's outputs and inputs per token live in the device's memory.
    typename Device::template vector<float> logps(static_cast<std::size_t>(N)), weights(static_cast<std::size_t>(N));
    device.copy_from_host(host_weights.data(), N, weights.data());

    const double train_s = time_median_synced(device, warmup, steps, [&] {
      model.zero_gradients();
      model.backward(model.forward(packed, logps.data()), weights.data());
    });
    const double forward_s = time_median_synced(device, warmup, steps, [&] {
      model.forward(packed, logps.data(), ForwardMode::inference);
    });
    const double gemm_peak = gemm ? measure_gemm_gflops(device) : 0.0;
    const double gemm_rows = gemm && ro.gemm_at_batch_rows ? measure_gemm_gflops_at(device, N) : 0.0;
    const double step_gflops = 3.0 * forward_flops(config, N, seq_len) / train_s / 1e9;
    nlohmann::ordered_json extra = ro.device_fields();
    if (ro.gemm_at_batch_rows && gemm) {
      extra["gemm_batch_rows_gflops"] = std::round(gemm_rows * 10) / 10;
      extra["fraction_of_gemm_batch_rows"] = std::round(step_gflops / gemm_rows * 1000) / 1000;
    }
    std::printf(
        "{\"impl\":\"prefopt\",\"device\":\"%s\",\"threads\":%d,\"config\":\"%s\",\"parameters\":%lld,"
        "\"seq_len\":%lld,\"batch\":%lld,\"steps\":%d,\"train_tokens_per_s\":%.1f,\"train_step_s_median\":%.4f,"
        "\"forward_tokens_per_s\":%.1f,\"forward_step_s_median\":%.4f,\"train_gflops\":%.1f,"
        "\"gemm_peak_gflops\":%.1f,\"fraction_of_gemm_peak\":%.3f,\"activation_mib\":%.1f,\"peak_rss_mib\":%.1f%s}\n",
        Device::name, max_threads(), config_name.c_str(), static_cast<long long>(model.num_parameters()),
        static_cast<long long>(seq_len), static_cast<long long>(batch), steps, N / train_s, train_s, N / forward_s,
        forward_s, step_gflops, gemm_peak, gemm ? step_gflops / gemm_peak : 0.0, model.activation_bytes() / 1048576.0,
        peak_rss_mib(), json_tail(extra).c_str());
  } catch (const std::exception& e) {
    std::cerr << prog << ": " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace prefopt::bench
