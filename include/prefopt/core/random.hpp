// SPDX-License-Identifier: MIT
// A small, portable random source. std::normal_distribution differs between standard libraries,
// so prefopt draws its own numbers: SplitMix64 (Steele, Lea & Flood 2014) for 64-bit words and
// Box-Muller for normals. The same seed gives the same numbers on every platform and device.
#pragma once

#include <cmath>
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include "prefopt/core/types.hpp"

namespace prefopt {

class Random {
 public:
  explicit Random(std::uint64_t seed = 0) noexcept : state_(seed) {}

  std::uint64_t next_u64() noexcept {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() noexcept { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
  /// Uniform integer in [0, n) (n > 0), by rejection so it is unbiased.
  std::uint64_t below(std::uint64_t n) noexcept {
    const std::uint64_t limit = ~std::uint64_t{0} - (~std::uint64_t{0} % n);
    std::uint64_t x;
    do x = next_u64(); while (x >= limit);
    return x % n;
  }
  /// Standard normal (Box-Muller; the second value of each pair is discarded for simplicity).
  double normal() noexcept {
    const double u1 = 1.0 - uniform();  // (0, 1]: log never sees 0
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  std::uint64_t state() const noexcept { return state_; }
  void set_state(std::uint64_t s) noexcept { state_ = s; }

 private:
  std::uint64_t state_;
};

/// A uniform permutation of [0, n) drawn from Random(seed) by Fisher-Yates in Durstenfeld's form
/// (for i = n-1 down to 1, swap i with a uniform j in [0, i]): the same on every platform. Every
/// seeded order in prefopt — the Batcher's epochs, held-out splits — is one of these.
inline std::vector<index_t> random_permutation(index_t n, std::uint64_t seed) {
  std::vector<index_t> order(static_cast<std::size_t>(n > 0 ? n : 0));
  std::iota(order.begin(), order.end(), index_t{0});
  Random random(seed);
  for (index_t i = n - 1; i >= 1; --i) {
    const auto j = static_cast<index_t>(random.below(static_cast<std::uint64_t>(i) + 1));
    std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
  }
  return order;
}

}  // namespace prefopt
