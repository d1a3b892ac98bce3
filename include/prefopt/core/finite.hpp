// SPDX-License-Identifier: MIT
// Whether a double is finite, callable from device code too (kernels that vet a step's numbers on
// the GPU: train/pair_loss_kernel.hpp, optim/grad_clip.hpp). |x| <= DBL_MAX is false for NaN
// (every comparison with NaN is) and for ±inf; nothing here depends on std::isfinite being
// available to nvcc's device compiler.
#pragma once

#include <cfloat>
#include <cmath>

#include "prefopt/core/config.hpp"

namespace prefopt {

PREFOPT_HOST_DEVICE inline bool is_finite_value(double x) noexcept { return std::fabs(x) <= DBL_MAX; }

}  // namespace prefopt
