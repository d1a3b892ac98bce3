// SPDX-License-Identifier: MIT
// Build-time configuration: the only header that inspects compiler and backend macros.
#pragma once

#if defined(_OPENMP)
#include <omp.h>
#define PREFOPT_HAS_OPENMP 1
#else
#define PREFOPT_HAS_OPENMP 0
#endif

#if defined(__CUDACC__)
#define PREFOPT_HOST_DEVICE __host__ __device__
#else
#define PREFOPT_HOST_DEVICE
#endif

#if defined(__GNUC__) || defined(__clang__)
#define PREFOPT_RESTRICT __restrict__
#else
#define PREFOPT_RESTRICT
#endif

// Pragmas must be built with _Pragma so they can live inside macros.
#if PREFOPT_HAS_OPENMP
#define PREFOPT_OMP(directive) _Pragma(#directive)
#else
#define PREFOPT_OMP(directive)
#endif

namespace prefopt {
/// Number of threads an OpenMP parallel region will use (1 without OpenMP).
inline int max_threads() noexcept {
#if PREFOPT_HAS_OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}
}  // namespace prefopt
