// SPDX-License-Identifier: MIT
// Gradient-norm clipping as torch.nn.utils.clip_grad_norm_ (PyTorch 1.13, torch/nn/utils/
// clip_grad.py) with norm_type 2, over one contiguous gradient block:
//   total_norm = sqrt(sum g^2)
//   clip_coef  = max_norm / (total_norm + 1e-6)
//   g *= clamp(clip_coef, max=1.0)
// Hugging Face Trainer calls it with max_grad_norm (default 1.0) before every optimizer step.
#pragma once

#include <cmath>

#include "prefopt/core/types.hpp"

namespace prefopt {

/// Clips grads (n) in place to total L2 norm max_norm and returns the norm before clipping.
/// max_norm <= 0 turns clipping off (the norm is still returned).
///
/// The sum of squares is accumulated in double by the device's deterministic sum_of_squares;
/// PyTorch accumulates each tensor's norm in float, so the returned norm agrees with torch's to
/// about 1e-7 relative, not bit for bit. The coefficient is then formed as PyTorch forms it on a
/// tensor of the gradients' type: the norm rounded to Scalar, + Scalar(1e-6), and max_norm / x
/// evaluated as Tensor.__rdiv__ does, reciprocal(x) * max_norm. The multiply by the clamped
/// coefficient is skipped when the coefficient is >= 1 (a multiply by 1.0, a no-op). A NaN norm
/// leaves the gradients unchanged (torch would turn them all NaN); callers check the norm.
template <class Device, class Scalar>
double clip_grad_norm(const Device& device, Scalar* grads, index_t n, double max_norm) {
  const double total_norm = std::sqrt(sum_of_squares(device, grads, n));
  if (!(max_norm > 0.0)) return total_norm;
  const Scalar shifted = static_cast<Scalar>(total_norm) + static_cast<Scalar>(1e-6);
  const Scalar clip_coef = (Scalar(1) / shifted) * static_cast<Scalar>(max_norm);
  if (clip_coef < Scalar(1)) scale(device, grads, n, clip_coef);
  return total_norm;
}

}  // namespace prefopt
