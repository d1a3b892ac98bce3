// SPDX-License-Identifier: MIT
// The one summation order of Σ x² (the gradient norm behind clipping) that every device follows,
// so the norm — hence the clip coefficient, hence a resumed run — has the same bits on every
// device and for any thread count:
//
//   1. x is cut into chunks of sum_of_squares_chunk elements; a chunk's squares (in double) go
//      round-robin into 8 accumulators (element i into lane i % 8), added in lane order: the
//      chunk's partial. One thread per chunk; the lanes let a CPU vectorize a fixed order.
//   2. the partials are cut into groups of sum_of_squares_group and each group is added in order.
//   3. the group sums are added in order.
//
// Step 2 exists for the GPU: with the norm kept on the device (optim/grad_clip.hpp), 124M
// parameters make 15,190 partials, which one GPU thread would add as a chain of 15,190 dependent
// double adds (tens of µs, by the add's latency; an estimate, not a measurement); in groups of 64
// it is 238 threads of 64 adds, then one thread of 238. The CPU device runs the same three steps.
#pragma once

#include "prefopt/core/config.hpp"
#include "prefopt/core/types.hpp"

namespace prefopt {

/// Elements per partial sum (step 1).
inline constexpr index_t sum_of_squares_chunk = 8192;
/// Partials per group sum (step 2).
inline constexpr index_t sum_of_squares_group = 64;

PREFOPT_HOST_DEVICE constexpr index_t sum_of_squares_chunks(index_t n) noexcept {
  return n > 0 ? (n + sum_of_squares_chunk - 1) / sum_of_squares_chunk : 0;
}
PREFOPT_HOST_DEVICE constexpr index_t sum_of_squares_groups(index_t n_partials) noexcept {
  return n_partials > 0 ? (n_partials + sum_of_squares_group - 1) / sum_of_squares_group : 0;
}

/// Step 1: the partial of chunk `c` of x (n).
template <class S>
PREFOPT_HOST_DEVICE double sum_of_squares_chunk_partial(const S* x, index_t n, index_t c) noexcept {
  const S* p = x + c * sum_of_squares_chunk;
  const index_t rest = n - c * sum_of_squares_chunk;
  const index_t len = rest < sum_of_squares_chunk ? rest : sum_of_squares_chunk;
  constexpr index_t lanes = 8;
  double acc[lanes] = {0, 0, 0, 0, 0, 0, 0, 0};
  index_t i = 0;
  for (; i + lanes <= len; i += lanes)
    for (index_t j = 0; j < lanes; ++j) {
      const double v = static_cast<double>(p[i + j]);
      acc[j] += v * v;
    }
  for (; i < len; ++i) {
    const double v = static_cast<double>(p[i]);
    acc[i % lanes] += v * v;
  }
  double s = 0.0;
  for (index_t j = 0; j < lanes; ++j) s += acc[j];
  return s;
}

/// Step 2: the sum of group `g` of the partials (n_partials).
PREFOPT_HOST_DEVICE inline double sum_of_squares_group_sum(const double* partials, index_t n_partials, index_t g) noexcept {
  const index_t first = g * sum_of_squares_group;
  const index_t last = first + sum_of_squares_group < n_partials ? first + sum_of_squares_group : n_partials;
  double s = 0.0;
  for (index_t k = first; k < last; ++k) s += partials[k];
  return s;
}

/// Step 3: the group sums (n_groups) added in order.
PREFOPT_HOST_DEVICE inline double sum_of_squares_total(const double* group_sums, index_t n_groups) noexcept {
  double s = 0.0;
  for (index_t g = 0; g < n_groups; ++g) s += group_sums[g];
  return s;
}

/// Steps 2 and 3 on the host, over partials in host memory.
inline double sum_of_squares_from_partials(const double* partials, index_t n_partials) noexcept {
  double s = 0.0;
  for (index_t g = 0; g < sum_of_squares_groups(n_partials); ++g) s += sum_of_squares_group_sum(partials, n_partials, g);
  return s;
}

}  // namespace prefopt
