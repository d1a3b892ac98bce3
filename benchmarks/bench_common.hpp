// SPDX-License-Identifier: MIT
// Shared helpers of the benchmarks: wall-clock timing, peak memory, median, synthetic pairs, and
// what a device-generic benchmark (gpt2_step.hpp, dpo_step.hpp) is told by its main.
#pragma once

#include <sys/resource.h>

#include <boost/program_options.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "prefopt/core/random.hpp"
#include "prefopt/data/tokenize_pair.hpp"
#include "prefopt/model/gpt2_config.hpp"

namespace prefopt::bench {

inline double now_seconds() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

/// Peak resident set size of this process, MiB (ru_maxrss is in KiB on Linux).
inline double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// Times `fn` `steps` times after `warmup` untimed calls; returns the median seconds.
template <class Fn>
double time_median(int warmup, int steps, Fn&& fn) {
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> t;
  for (int i = 0; i < steps; ++i) {
    const double t0 = now_seconds();
    fn();
    t.push_back(now_seconds() - t0);
  }
  return median(t);
}

/// As time_median, but each call is followed by device.synchronize() inside the timed span, so a
/// device that runs asynchronously (CUDA) has finished the work before the clock is read.
template <class Device, class Fn>
double time_median_synced(const Device& device, int warmup, int steps, Fn&& fn) {
  return time_median(warmup, steps, [&] {
    fn();
    device.synchronize();
  });
}

/// What the main of a device-generic benchmark hands it: the program name for messages, a check
/// run after the flags are parsed (non-zero: the exit status, e.g. no GPU), and extra JSON fields
/// describing the device (GPU name, cuBLAS math mode, ...), asked for when the result is printed.
struct RunOptions {
  std::string program;
  std::function<int()> device_ready = [] { return 0; };
  std::function<nlohmann::ordered_json()> device_fields = [] { return nlohmann::ordered_json::object(); };
  /// Also time the GEMMs at the step's own row count (the batch's tokens), next to the fixed
  /// 512-row shapes of the GEMM peak: 512 rows are small for a GPU.
  bool gemm_at_batch_rows = false;
};

/// Parses the flags into vm. Returns the exit status when the program should stop — 2 after
/// printing a parse error and the options, 0 after printing --help — and nothing to go on.
inline std::optional<int> parse_flags(const boost::program_options::options_description& opts, int argc, char** argv,
                                      boost::program_options::variables_map& vm, const std::string& prog) {
  namespace po = boost::program_options;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << prog << ": " << e.what() << "\n" << opts;
    return 2;
  }
  if (vm.count("help")) {
    std::cout << opts;
    return 0;
  }
  return std::nullopt;
}

/// The benchmarks' model configurations by name: "small" (4 layers, 4 heads, 256 wide) or "124m";
/// nothing, after saying so, for another name.
inline std::optional<Gpt2Config> config_by_name(const std::string& name, const std::string& prog) {
  if (name == "small") return Gpt2Config::small();
  if (name == "124m") return Gpt2Config::gpt2_124m();
  std::cerr << prog << ": --config must be small or 124m, got " << name << "\n";
  return std::nullopt;
}

/// The "equal" workload: n pairs of seeded random ids, every prompt prompt_len tokens and every
/// completion completion_len tokens (so every micro-batch has the same shape, however sharded).
inline std::vector<TokenizedPair> equal_pairs(index_t n, index_t prompt_len, index_t completion_len, index_t vocab,
                                              std::uint64_t seed) {
  Random rng(seed);
  auto ids = [&](index_t len) {
    std::vector<token_t> v(static_cast<std::size_t>(len));
    for (auto& t : v) t = static_cast<token_t>(rng.below(static_cast<std::uint64_t>(vocab)));
    return v;
  };
  std::vector<TokenizedPair> out;
  for (index_t i = 0; i < n; ++i) {
    TokenizedPair p;
    p.prompt_ids = ids(prompt_len);
    p.chosen_ids = ids(completion_len);
    p.rejected_ids = ids(completion_len);
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace prefopt::bench
