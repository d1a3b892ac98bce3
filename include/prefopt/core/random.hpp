// SPDX-License-Identifier: MIT
// A small, portable random source. std::normal_distribution differs between standard libraries,
// so prefopt draws its own numbers: SplitMix64 (Steele, Lea & Flood 2014) for 64-bit words and
// Box-Muller for normals. The same seed gives the same numbers on every platform and device.
#pragma once

#include <cmath>
#include <cstdint>

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

}  // namespace prefopt
