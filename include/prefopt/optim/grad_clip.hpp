// SPDX-License-Identifier: MIT
// Gradient-norm clipping as torch.nn.utils.clip_grad_norm_ (PyTorch 1.13, torch/nn/utils/
// clip_grad.py) with norm_type 2, over one contiguous gradient block:
//   total_norm = sqrt(sum g^2)
//   clip_coef  = max_norm / (total_norm + 1e-6)
//   g *= clamp(clip_coef, max=1.0)
// Hugging Face Trainer calls it with max_grad_norm (default 1.0) before every optimizer step.
//
// It runs where the gradients are, with nothing read back: the sum of squares, the norm, the
// coefficient and the scaling are kernels queued on the device, and the verdict (GradClipState)
// stays in device memory, where AdamW reads its `proceed` flag (optim/adamw.hpp) and the host
// reads it once the step is done (for the log and the non-finite stop). A training step so needs
// no host wait between its backward and its update.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "prefopt/core/config.hpp"
#include "prefopt/core/finite.hpp"
#include "prefopt/core/types.hpp"
#include "prefopt/device/sum_of_squares_order.hpp"

namespace prefopt {

/// What the clip decided for one step; written on the device.
struct GradClipState {
  double total_norm = 0.0;   ///< ‖g‖₂ before clipping (not finite when a gradient is not)
  double coefficient = 1.0;  ///< what the gradients were multiplied by (1: not clipped)
  std::int32_t proceed = 1;  ///< 1 when total_norm is finite: the optimizer may step
};

namespace grad_clip_detail {

struct GroupSums {  // step 2 of device/sum_of_squares_order.hpp, one task per group
  const double* partials;
  index_t n_partials;
  double* group_sums;
  PREFOPT_HOST_DEVICE void operator()(index_t g) const { group_sums[g] = sum_of_squares_group_sum(partials, n_partials, g); }
};

// Step 3, then the coefficient as PyTorch forms it on a tensor of the gradients' type: the norm
// rounded to Scalar, + Scalar(1e-6), and max_norm / x evaluated as Tensor.__rdiv__ does,
// reciprocal(x) * max_norm. One task.
template <class Scalar>
struct Decide {
  const double* group_sums;
  index_t n_groups;
  double max_norm;
  GradClipState* state;
  PREFOPT_HOST_DEVICE void operator()(index_t) const {
    GradClipState s;
    s.total_norm = std::sqrt(sum_of_squares_total(group_sums, n_groups));
    s.proceed = is_finite_value(s.total_norm) ? 1 : 0;
    if (max_norm > 0.0 && s.proceed == 1) {
      const Scalar shifted = static_cast<Scalar>(s.total_norm) + static_cast<Scalar>(1e-6);
      const Scalar clip_coef = (Scalar(1) / shifted) * static_cast<Scalar>(max_norm);
      if (clip_coef < Scalar(1)) s.coefficient = static_cast<double>(clip_coef);  // exact: a Scalar
    }
    *state = s;
  }
};

}  // namespace grad_clip_detail

/// Clips a gradient block of n elements on `device`, step after step, with its scratch (the
/// partial and group sums, one double per 8,192 and per 524,288 gradients) and its verdict kept
/// in device memory.
template <class Device, class Scalar>
class GradientClipper {
 public:
  template <class T>
  using vector = typename Device::template vector<T>;

  GradientClipper(Device device, index_t n)
      : device_(device), n_(n), partials_(static_cast<std::size_t>(sum_of_squares_chunks(n))),
        group_sums_(static_cast<std::size_t>(sum_of_squares_groups(sum_of_squares_chunks(n)))), state_(1) {}

  /// Queues on the device: the norm of grads (n, device memory) in the one summation order of
  /// device/sum_of_squares_order.hpp (double accumulation; PyTorch accumulates each tensor's norm
  /// in float, so the two agree to about 1e-7 relative), the coefficient, and grads *= it when it
  /// is below 1. max_norm <= 0 turns clipping off (the norm is still computed). A norm that is not
  /// finite leaves the gradients unchanged and sets proceed to 0 (torch would scale them by 0 or NaN).
  void clip(Scalar* grads, double max_norm) {
    const index_t n_chunks = sum_of_squares_chunks(n_), n_groups = sum_of_squares_groups(n_chunks);
    sum_of_squares_partials(device_, static_cast<const Scalar*>(grads), n_, partials_.data());
    for_each_index(device_, n_groups, grad_clip_detail::GroupSums{partials_.data(), n_chunks, group_sums_.data()});
    for_each_index(device_, 1, grad_clip_detail::Decide<Scalar>{group_sums_.data(), n_groups, max_norm, state_.data()});
    scale_by(device_, grads, n_, &state_.data()->coefficient);
  }

  /// The verdict in device memory: AdamW takes &proceed, and a caller's own kernels may call the
  /// step off too (the trainer's check of the step's losses, train/pair_loss_kernel.hpp).
  GradClipState* device_state() noexcept { return state_.data(); }
  const std::int32_t* device_proceed() const noexcept { return &state_.data()->proceed; }

  /// The verdict of the last clip(), copied to the host (this waits for the device).
  GradClipState read() const {
    GradClipState s;
    device_.copy_to_host(static_cast<const GradClipState*>(state_.data()), 1, &s);
    return s;
  }

  index_t size() const noexcept { return n_; }

 private:
  Device device_;
  index_t n_ = 0;
  vector<double> partials_, group_sums_;
  vector<GradClipState> state_;
};

/// Clips grads (n, device memory) in place to total L2 norm max_norm and returns the norm before
/// clipping: GradientClipper's clip(), then its verdict read back. Callers check the norm.
template <class Device, class Scalar>
double clip_grad_norm(const Device& device, Scalar* grads, index_t n, double max_norm) {
  GradientClipper<Device, Scalar> clipper(device, n);
  clipper.clip(grads, max_norm);
  return clipper.read().total_norm;
}

}  // namespace prefopt
