// SPDX-License-Identifier: MIT
// Central finite differences in double precision, checked per coordinate:
//   numeric = (L(x + h) - L(x - h)) / 2h,  h = 1e-6 * max(1, |x|)
//   |analytic - numeric| <= rel * max(|analytic|, |numeric|) + floor,
//   floor = 10 * eps * max(1, |L|) / h   (the rounding error of the difference quotient).
// Small tensors are checked in full, larger ones on a seeded sample of coordinates.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "prefopt/core/random.hpp"
#include "prefopt/core/types.hpp"

namespace prefopt::test {

/// Coordinates checked per tensor at most. The SIMT build (PREFOPT_TEST_SIMT, test_device.hpp)
/// emulates every CUDA thread of every launch on one core, about 200 times the OpenMP build's
/// cost per forward, so it samples fewer: each tensor is still checked, and a wrong index or
/// operand anywhere in a kernel moves most coordinates of the tensors it touches.
#if defined(PREFOPT_TEST_SIMT)
constexpr index_t default_gradcheck_coords = 100;
#else
constexpr index_t default_gradcheck_coords = 2000;
#endif

struct GradcheckResult {
  index_t checked = 0;
  index_t failures = 0;
  double worst_relative = 0;  // max |a - n| / max(|a|, |n|) over coordinates above the floor
};

/// `loss()` evaluates the scalar probe loss at the current contents of x.
template <class LossFn>
GradcheckResult check_gradient(const std::string& name, double* x, index_t n,
                               const double* analytic, LossFn&& loss, double rel = 1e-6,
                               index_t max_coords = default_gradcheck_coords, std::uint64_t seed = 7) {
  std::vector<index_t> coords;
  if (n <= max_coords) {
    for (index_t i = 0; i < n; ++i) coords.push_back(i);
  } else {
    Random rng(seed);
    for (index_t k = 0; k < max_coords; ++k) coords.push_back(static_cast<index_t>(rng.below(n)));
  }
  GradcheckResult result;
  const double L0 = loss();
  for (index_t i : coords) {
    const double saved = x[i];
    const double h = 1e-6 * std::max(1.0, std::abs(saved));
    x[i] = saved + h;
    const double lp = loss();
    x[i] = saved - h;
    const double lm = loss();
    x[i] = saved;
    const double numeric = (lp - lm) / (2 * h);
    const double a = analytic[i];
    const double floor = 10 * std::numeric_limits<double>::epsilon() *
                         std::max({1.0, std::abs(L0), std::abs(lp)}) / h;
    const double err = std::abs(a - numeric);
    const double scale = std::max(std::abs(a), std::abs(numeric));
    ++result.checked;
    if (err > floor) result.worst_relative = std::max(result.worst_relative, err / scale);
    if (err > rel * scale + floor) {
      ++result.failures;
      if (result.failures <= 5) {
        INFO(name << "[" << i << "]: analytic " << a << " numeric " << numeric << " |diff| " << err
                  << " allowed " << rel * scale + floor);
        CHECK(err <= rel * scale + floor);
      }
    }
  }
  INFO(name << ": " << result.checked << " coordinates, worst relative error "
            << result.worst_relative);
  CHECK(result.failures == 0);
  return result;
}

/// n values from N(0, scale^2), seeded.
inline std::vector<double> random_vector(index_t n, std::uint64_t seed, double scale = 1.0) {
  Random rng(seed);
  std::vector<double> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = scale * rng.normal();
  return v;
}

template <class Alloc>
double dot(const std::vector<double, Alloc>& a, const double* b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

}  // namespace prefopt::test
