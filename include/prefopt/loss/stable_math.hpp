// SPDX-License-Identifier: MIT
// Overflow-safe scalar functions the preference losses are built from, in double.
//   softplus(x)    = log(1 + e^x)       = max(x, 0) + log1p(e^-|x|)
//   log_sigmoid(x) = log σ(x)           = -softplus(-x) = min(x, 0) - log1p(e^-|x|)
//   sigmoid(x)     = 1 / (1 + e^-x), evaluated through e^-|x| so neither branch overflows
//   log1mexp(a)    = log(1 - e^a), a < 0 (Mächler, "Accurately computing log(1 - exp(-|a|))",
//                    CRAN Rmpfr vignette, 2012: switch at a = -ln 2)
// Every function is finite and accurate to a few ulps for any finite argument, e.g. |x| = 1e4,
// where the naive log(1 / (1 + exp(-x))) overflows to -inf or loses all digits.
// log_sigmoid matches torch.nn.functional.logsigmoid's CPU kernel (min(x,0) - log1p(exp(-|x|))).
#pragma once

#include <cmath>

#include "prefopt/core/config.hpp"

namespace prefopt::loss {

/// log(1 + e^x); never overflows (≈ x for large x, ≈ e^x for very negative x).
PREFOPT_HOST_DEVICE inline double softplus(double x) noexcept { return std::fmax(x, 0.0) + std::log1p(std::exp(-std::fabs(x))); }

/// log σ(x) = -softplus(-x); ≈ x for very negative x, ≈ -e^-x for large x.
PREFOPT_HOST_DEVICE inline double log_sigmoid(double x) noexcept { return std::fmin(x, 0.0) - std::log1p(std::exp(-std::fabs(x))); }

/// σ(x) = 1 / (1 + e^-x); for x < 0 written as e^x / (1 + e^x) so that e^-x never overflows and
/// tiny results keep their relative precision (σ(-700) ≈ 9.86e-305, not 0).
PREFOPT_HOST_DEVICE inline double sigmoid(double x) noexcept {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

/// log(1 - e^a) for a < 0. Near 0, 1 - e^a cancels, so use -expm1(a); far from 0, e^a is small and
/// log1p(-e^a) is exact. At a = 0 the result is -inf (and NaN for a > 0): callers guarantee a < 0.
PREFOPT_HOST_DEVICE inline double log1mexp(double a) noexcept {
  constexpr double minus_ln2 = -0.693147180559945309417232121458176568;
  return a > minus_ln2 ? std::log(-std::expm1(a)) : std::log1p(-std::exp(a));
}

}  // namespace prefopt::loss
