// SPDX-License-Identifier: MIT
// DPO step benchmark (issue 4) on any device: pairs/s and tokens/s of prefopt's
// Trainer<Gpt2<Device>, loss::Dpo> — one optimizer step = the policy's forward + backward over the
// chosen and rejected sequences of a micro-batch, the reference log-probs (precomputed, or a
// frozen reference model scored in the step), the DPO loss, gradient clipping and AdamW — plus the
// process's peak RSS. Prints one JSON line. Run each configuration in its own process so that
// peaks do not mix. Mains: dpo_step.cpp (bench_dpo_step, CpuDevice) and cuda_step.cu
// (`bench_cuda_step dpo`, CudaDevice); both take the same flags.
//
//   bench_dpo_step --config small --workload equal --reference precompute --steps 8
//   bench_dpo_step --config 124m --workload real --pairs pairs.jsonl --reference model --steps 3
//
// The library is used as a user would: the Trainer's train() runs warm-up + measured steps with
// per-step logging, and the on_log hook stamps the wall clock after every step (after
// synchronizing the device, so that an asynchronous device has finished the step's kernels); the
// measured time is the span from the end of the last warm-up step to the end of the last measured
// step (so it excludes the trainer's start, the first step's allocations and the final model
// save, and includes the per-step logging a real run pays).
//
// Data order: both this benchmark and its PyTorch peer (benchmarks/reference/pytorch_dpo_step.py)
// train on the first N = 4 (warmup + steps) pairs in file order, micro-batch j = pairs 4j..4j+3.
// The Trainer shuffles with a seeded Fisher-Yates (data/batcher.hpp); the pairs are handed to it
// pre-arranged by the inverse of that permutation so that its micro-batches are exactly those, and
// the arrangement is checked against Batcher::micro_batch_of before training.
//
// Workloads: "equal" — random ids (seeded), every sequence prompt_len + completion_len tokens
// (defaults 64 + 192 = 256 for small, 128 + 384 = 512 for 124m); "real" — the id pairs file written
// by `prefopt pairs --out` (the seed's hh-rlhf pairs). tokens = the real tokens of prompt+chosen and
// prompt+rejected of the measured steps' pairs (nothing is padded in prefopt's packed batches).
// Reference: "precompute" (the default ReferenceMode): precompute_reference(policy) before training,
// timed on its own (synchronized) and reported as precompute_pairs_per_s; as TRL does with
// precompute_ref_log_probs and no ref_model, the untrained policy itself is the reference, so no
// second copy of the weights exists. "model": a frozen copy (GradientMemory::none, weights copied
// through the host with get_parameters/set_parameters) scored in every step via
// use_reference_model.
#pragma once

#include <unistd.h>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <streambuf>
#include <optional>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "prefopt/core/random.hpp"
#include "prefopt/data/batcher.hpp"
#include "prefopt/data/tokenize_pair.hpp"
#include "prefopt/loss/dpo.hpp"
#include "prefopt/model/gpt2.hpp"
#include "prefopt/train/trainer.hpp"
#include "prefopt/train/training_config.hpp"

namespace prefopt::bench {

// Discards what it is given: the Trainer prints a console line per log entry on std::cout, and
// stdout is this program's JSON.
struct NullBuffer : std::streambuf {
  int overflow(int c) override { return c; }
};

// The first n pairs of a `prefopt pairs --out` file (JSONL rows with prompt_ids/chosen_ids/rejected_ids).
inline std::vector<TokenizedPair> read_id_pairs(const std::string& path, index_t n) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open pairs file " + path);
  std::vector<TokenizedPair> out;
  std::string line;
  while (static_cast<index_t>(out.size()) < n && std::getline(in, line)) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    TokenizedPair p;
    p.prompt_ids = j.at("prompt_ids").get<std::vector<token_t>>();
    p.chosen_ids = j.at("chosen_ids").get<std::vector<token_t>>();
    p.rejected_ids = j.at("rejected_ids").get<std::vector<token_t>>();
    out.push_back(std::move(p));
  }
  if (static_cast<index_t>(out.size()) < n)
    throw std::runtime_error(path + " has " + std::to_string(out.size()) + " pairs, the run needs " + std::to_string(n));
  return out;
}

inline double real_tokens(const TokenizedPair& p) {
  return static_cast<double>(2 * p.prompt_ids.size() + p.chosen_ids.size() + p.rejected_ids.size());
}

template <class Device>
int run_dpo_step(int argc, char** argv, const RunOptions& ro) {
  namespace po = boost::program_options;
  using Model = Gpt2<Device, float>;
  const char* prog = ro.program.c_str();
  std::string config_name = "small", workload = "equal", reference = "precompute", pairs_path, output_dir;
  index_t batch = 4, prompt_len = 0, completion_len = 0;
  int steps = 8, warmup = 1;
  double beta = 0.1, lr = 1e-6;
  std::uint64_t seed = 42;
  po::options_description opts(ro.program + " options");
  opts.add_options()("help", "show this help")
      ("config", po::value(&config_name)->default_value(config_name), "small (4 layers, 4 heads, 256 wide) or 124m")
      ("workload", po::value(&workload)->default_value(workload), "equal (random ids, equal lengths) or real (--pairs)")
      ("reference", po::value(&reference)->default_value(reference), "precompute (default ReferenceMode) or model")
      ("pairs", po::value(&pairs_path), "id pairs file of `prefopt pairs --out` (workload real)")
      ("steps", po::value(&steps)->default_value(steps), "measured optimizer steps")
      ("warmup", po::value(&warmup)->default_value(warmup), "optimizer steps before the measured ones")
      ("batch", po::value(&batch)->default_value(batch), "pairs per step (per_device_train_batch_size)")
      ("prompt-len", po::value(&prompt_len), "equal workload: prompt tokens (default 64 small, 128 124m)")
      ("completion-len", po::value(&completion_len), "equal workload: completion tokens (default 192 small, 384 124m)")
      ("beta", po::value(&beta)->default_value(beta), "DPO beta")
      ("lr", po::value(&lr)->default_value(lr), "learning rate")
      ("seed", po::value(&seed)->default_value(seed), "seed (weights, equal-workload ids, trainer)")
      ("output-dir", po::value(&output_dir), "trainer output directory (default: a fresh temp dir, removed after)");
  po::variables_map vm;
  if (const auto status = bench::parse_flags(opts, argc, argv, vm, prog)) return *status;
  const std::optional<Gpt2Config> maybe_config = bench::config_by_name(config_name, prog);
  if (!maybe_config) return 2;
  const Gpt2Config config = *maybe_config;
  if ((workload != "equal" && workload != "real") || (reference != "precompute" && reference != "model") ||
      (workload == "real" && pairs_path.empty()) || steps < 1 || warmup < 1 || batch < 1) {
    std::cerr << prog << ": need --workload equal|real (real with --pairs), --reference precompute|model, "
                 "--steps >= 1, --warmup >= 1, --batch >= 1\n";
    return 2;
  }
  if (!vm.count("prompt-len")) prompt_len = config_name == "small" ? 64 : 128;
  if (!vm.count("completion-len")) completion_len = config_name == "small" ? 192 : 384;
  if (const int status = ro.device_ready(); status != 0) return status;
  const bool own_dir = output_dir.empty();
  if (own_dir) {
    char tmpl[] = "/tmp/bench_dpo_step.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      std::perror((ro.program + ": mkdtemp").c_str());
      return 1;
    }
    output_dir = tmpl;
  }

  int rc = 0;
  try {
    const Device device{};
    const index_t total_steps = warmup + steps, n_pairs = batch * total_steps;
    const std::vector<TokenizedPair> file_pairs =
        workload == "equal" ? equal_pairs(n_pairs, prompt_len, completion_len, config.vocab_size, seed + 1)
                            : read_id_pairs(pairs_path, n_pairs);

    // Hand the pairs to the Trainer so that its shuffled micro-batch j is file pairs batch*j ...
    TrainingConfig tc;
    tc.output_dir = output_dir;
    tc.per_device_train_batch_size = batch;
    tc.gradient_accumulation_steps = 1;
    tc.max_steps = total_steps;
    tc.learning_rate = lr;
    tc.logging_steps = 1;  // the on_log hook stamps every step
    tc.save_strategy = SaveStrategy::No;
    tc.progress = false;
    tc.seed = seed;
    BatcherOptions bo;
    bo.per_device_batch_size = batch;
    bo.seed = seed;
    const Batcher batcher(n_pairs, bo);
    const std::vector<index_t> order = batcher.epoch_order(0);
    std::vector<TokenizedPair> train_pairs(file_pairs.size());
    std::vector<index_t> file_index(file_pairs.size());
    for (index_t i = 0; i < n_pairs; ++i) {
      train_pairs[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])] = file_pairs[static_cast<std::size_t>(i)];
      file_index[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])] = i;
    }
    for (index_t j = 0; j < total_steps; ++j) {  // ... checked against the batcher itself
      const std::vector<index_t> mb = batcher.micro_batch_of(order, j);
      PREFOPT_CHECK(static_cast<index_t>(mb.size()) == batch, "micro-batch ", j, " has ", mb.size(), " pairs");
      for (index_t k = 0; k < batch; ++k)
        PREFOPT_CHECK(file_index[static_cast<std::size_t>(mb[static_cast<std::size_t>(k)])] == j * batch + k,
                      "the Trainer's order does not match the file order at micro-batch ", j);
    }
    double measured_tokens = 0;
    index_t longest = 0;
    for (index_t i = warmup * batch; i < n_pairs; ++i) measured_tokens += real_tokens(file_pairs[static_cast<std::size_t>(i)]);
    for (const auto& p : file_pairs)
      longest = std::max<index_t>(longest, static_cast<index_t>(p.prompt_ids.size() + std::max(p.chosen_ids.size(), p.rejected_ids.size())));

    Model policy(config, device);
    policy.init_random(seed);
    std::unique_ptr<Model> frozen;
    std::fprintf(stderr, "%s: %s, %lld parameters, workload %s, reference %s, %lld pairs/step, %d+%d steps, %d threads, device %s\n",
                 prog, config_name.c_str(), static_cast<long long>(policy.num_parameters()), workload.c_str(),
                 reference.c_str(), static_cast<long long>(batch), warmup, steps, max_threads(), Device::name);

    Trainer<Model, loss::Dpo> trainer(policy, loss::Dpo{beta, 0.0}, tc, train_pairs);
    double precompute_s = 0;
    if (reference == "precompute") {
      device.synchronize();
      const double t0 = now_seconds();
      trainer.precompute_reference(policy);  // the untrained policy is the reference (TRL, no ref_model)
      device.synchronize();
      precompute_s = now_seconds() - t0;
    } else {
      frozen = std::make_unique<Model>(config, device, GradientMemory::none);
      std::vector<float> host(static_cast<std::size_t>(policy.num_parameters()));
      policy.get_parameters(host.data());
      frozen->set_parameters(host.data());
      trainer.use_reference_model(*frozen);
    }
    std::vector<double> stamps;  // wall clock after each optimizer step
    stamps.reserve(static_cast<std::size_t>(total_steps));
    trainer.on_log([&](const LogEntry&) {
      device.synchronize();
      stamps.push_back(now_seconds());
    });
    NullBuffer null;
    std::streambuf* saved = std::cout.rdbuf(&null);
    TrainResult result;
    try {
      result = trainer.train();
    } catch (...) {
      std::cout.rdbuf(saved);
      throw;
    }
    std::cout.rdbuf(saved);
    PREFOPT_CHECK(static_cast<index_t>(stamps.size()) == total_steps, "expected ", total_steps, " log entries, got ",
                  stamps.size());
    const double measured_s = stamps.back() - stamps[static_cast<std::size_t>(warmup - 1)];
    std::vector<double> step_s;
    for (int i = warmup; i < total_steps; ++i) step_s.push_back(stamps[static_cast<std::size_t>(i)] - stamps[static_cast<std::size_t>(i - 1)]);
    double load[3] = {0, 0, 0};
    if (getloadavg(load, 3) < 0) load[0] = -1;

    nlohmann::ordered_json out;
    out["name"] = "prefopt";
    out["bench"] = "dpo_step";
    out["device"] = Device::name;
    out["config"] = config_name;
    out["workload"] = workload;
    out["reference"] = reference;
    out["threads"] = max_threads();
    out["parameters"] = policy.num_parameters();
    out["batch_pairs"] = batch;
    out["warmup_steps"] = warmup;
    out["measured_steps"] = steps;
    out["pairs_per_s"] = static_cast<double>(steps * batch) / measured_s;
    out["tokens_per_s"] = measured_tokens / measured_s;
    out["step_ms"] = 1000.0 * measured_s / steps;
    out["step_ms_median"] = 1000.0 * median(step_s);
    out["measured_tokens"] = measured_tokens;
    out["padded_fraction"] = 0.0;  // packed batches: no padding
    out["longest_sequence"] = longest;
    if (reference == "precompute") {
      out["precompute_s"] = precompute_s;
      out["precompute_pairs_per_s"] = static_cast<double>(n_pairs) / precompute_s;
      out["precompute_batch_pairs"] = tc.precompute_ref_batch_size;
    }
    out["loss_last"] = result.last_log.value("loss", 0.0);
    out["activation_mib"] = static_cast<double>(policy.activation_bytes()) / 1048576.0;
    out["peak_rss_mib"] = peak_rss_mib();
    out["loadavg_1m_end"] = load[0];
    const nlohmann::ordered_json extra = ro.device_fields();
    for (auto it = extra.begin(); it != extra.end(); ++it) out[it.key()] = it.value();
    std::printf("%s\n", out.dump().c_str());
  } catch (const std::exception& e) {
    std::cerr << prog << ": " << e.what() << "\n";
    rc = 1;
  }
  if (own_dir) {
    std::error_code ec;
    std::filesystem::remove_all(output_dir, ec);
  }
  return rc;
}

}  // namespace prefopt::bench
