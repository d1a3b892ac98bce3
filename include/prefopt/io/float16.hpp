// SPDX-License-Identifier: MIT
// Exact conversions from the 16-bit storage formats of checkpoints to float, and a defined
// double -> float narrowing. Every finite half and bfloat16 value is exactly representable as a
// float, so these conversions lose nothing; NaN payloads and the sign of zero are kept.
//
//   IEEE 754 binary16 (PyTorch float16, safetensors "F16"): 1 sign, 5 exponent (bias 15), 10 fraction.
//   bfloat16 (PyTorch bfloat16, safetensors "BF16"): the top 16 bits of a binary32.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace prefopt {

namespace io_detail {
inline float float_from_bits(std::uint32_t bits) noexcept {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
}  // namespace io_detail

/// binary16 bits -> float, exactly (subnormals, infinities and NaNs included).
inline float half_to_float(std::uint16_t h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1Fu;
  const std::uint32_t fraction = h & 0x3FFu;
  if (exponent == 0x1F)  // inf (fraction 0) or NaN; the 10 payload bits move to the top of 23
    return io_detail::float_from_bits(sign | 0x7F800000u | (fraction << 13));
  if (exponent == 0) {
    // Zero or subnormal: value = fraction * 2^-24, exact in float (fraction < 2^10).
    const float magnitude = static_cast<float>(fraction) * 0x1p-24f;
    return sign != 0 ? -magnitude : magnitude;
  }
  // Normal: rebias the exponent from 15 to 127.
  return io_detail::float_from_bits(sign | ((exponent + 112u) << 23) | (fraction << 13));
}

/// bfloat16 bits -> float, exactly: bfloat16 is a truncated binary32.
inline float bfloat16_to_float(std::uint16_t b) noexcept {
  return io_detail::float_from_bits(static_cast<std::uint32_t>(b) << 16);
}

/// double -> float rounded to nearest-even, as IEEE 754 converts. C++ leaves a conversion of a
/// finite value beyond float's range undefined ([conv.double]), so overflow is handled here:
/// values at or above FLT_MAX + half an ulp (2^128 - 2^103) round to infinity.
inline float double_to_float(double d) noexcept {
  if (std::isnan(d))
    return std::signbit(d) ? -std::numeric_limits<float>::quiet_NaN()
                           : std::numeric_limits<float>::quiet_NaN();
  if (d >= 0x1.ffffffp127) return std::numeric_limits<float>::infinity();
  if (d <= -0x1.ffffffp127) return -std::numeric_limits<float>::infinity();
  return static_cast<float>(d);
}

}  // namespace prefopt
