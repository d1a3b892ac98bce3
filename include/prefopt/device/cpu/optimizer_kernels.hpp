// SPDX-License-Identifier: MIT
// Optimizer kernels: the deterministic sum of squares behind gradient-norm clipping, an in-place
// scale, and the AdamW update. AdamW reproduces PyTorch 1.13's torch.optim.AdamW single-tensor path
// (torch/optim/adamw.py, _single_tensor_adamw, foreach=False) operation by operation in the scalar
// type, so a float run matches PyTorch's float run bit for bit on the same inputs.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "prefopt/core/config.hpp"
#include "prefopt/core/types.hpp"
#include "prefopt/device/cpu/cpu_device.hpp"
#include "prefopt/device/sum_of_squares_order.hpp"
#include "prefopt/optim/adamw.hpp"  // AdamWStepParams, shared by every device

namespace prefopt::cpu {

namespace detail {
/// x rounded to double and kept there: a compiler allowed to contract floating-point expressions
/// (GCC's default outside strict ISO mode) would otherwise fuse `1 - a * b` into one fma, which
/// Python, computing the product first, does not.
inline double rounded(double x) noexcept {
  volatile double kept = x;
  return kept;
}
}  // namespace detail

/// partials (sum_of_squares_chunks(n)) = the chunk partials of Σ x² over x (n), step 1 of the
/// order every device follows (device/sum_of_squares_order.hpp); one chunk per OpenMP task.
template <class S>
void sum_of_squares_partials(const CpuDevice&, const S* x, index_t n, double* partials) {
  const index_t n_chunks = sum_of_squares_chunks(n);
  PREFOPT_OMP(omp parallel for schedule(static))
  for (index_t c = 0; c < n_chunks; ++c) partials[c] = sum_of_squares_chunk_partial(x, n, c);
}

/// Returns sum_i x[i]^2 over x (n), accumulated in double, in the fixed order of
/// device/sum_of_squares_order.hpp: bit-identical whatever OMP_NUM_THREADS is (bit-exact resume
/// relies on it) and to every other device's.
template <class S>
double sum_of_squares(const CpuDevice& d, const S* x, index_t n) {
  AlignedVector<double> partials(static_cast<std::size_t>(sum_of_squares_chunks(n)));
  sum_of_squares_partials(d, x, n, partials.data());
  return sum_of_squares_from_partials(partials.data(), sum_of_squares_chunks(n));
}

/// x (n) *= factor.
template <class S>
void scale(const CpuDevice&, S* x, index_t n, S factor) {
  PREFOPT_OMP(omp parallel for simd schedule(static))
  for (index_t i = 0; i < n; ++i) x[i] *= factor;
}

/// x (n) *= *factor, the factor read from device memory (the CPU device's: host memory) where an
/// earlier kernel wrote it — the gradient clip's coefficient (optim/grad_clip.hpp). A factor of 1
/// leaves x as it is (x · 1 = x in IEEE arithmetic), so that case skips the pass.
template <class S>
void scale_by(const CpuDevice& d, S* x, index_t n, const double* factor) {
  const S f = static_cast<S>(*factor);
  if (f != S(1)) scale(d, x, n, f);
}

/// One AdamW step on params (n), in place, from grads (n); exp_avg (n) and exp_avg_sq (n) are
/// the first and second moments, updated in place. PyTorch 1.13, _single_tensor_adamw:
///
///   param.mul_(1 - lr * weight_decay)
///   exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
///   exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
///   bias_correction1 = 1 - beta1 ** step;  bias_correction2 = 1 - beta2 ** step
///   step_size = lr / bias_correction1;     bias_correction2_sqrt = math.sqrt(bias_correction2)
///   denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
///   param.addcdiv_(exp_avg, denom, value=-step_size)
///
/// Rounding, as PyTorch's CPU kernels do it for a float tensor: the Python scalars (1 - lr·wd,
/// beta1, 1 - beta1, ..., -step_size) are computed in double and rounded once to S; every tensor
/// op rounds to S. Each tensor op is its own rounding step, so the decayed parameter and the
/// scaled moments are materialised before they are added to. PyTorch's AVX2 kernels (built by
/// GCC with FMA contraction) compute add_(g, alpha) as fma(g, alpha, a) and addcmul_(g, g, value)
/// as fma(value·g, g, a); both are written here as std::fma so the result does not depend on this
/// compiler's contraction settings. addcdiv_ is a + (value·t1)/t2, which nothing can contract.
template <class S>
void adamw_update(const CpuDevice&, S* params, const S* grads, S* exp_avg, S* exp_avg_sq, index_t n,
                  const AdamWStepParams& p) {
  if (p.proceed != nullptr && *p.proceed == 0) return;  // the step was called off on the device
  const double bias_correction1 = 1.0 - std::pow(p.beta1, static_cast<double>(p.step));
  const double bias_correction2 = 1.0 - std::pow(p.beta2, static_cast<double>(p.step));
  const double step_size = p.lr / bias_correction1;
  const S decay = static_cast<S>(1.0 - detail::rounded(p.lr * p.weight_decay));
  const S beta1 = static_cast<S>(p.beta1);
  const S one_minus_beta1 = static_cast<S>(1.0 - p.beta1);
  const S beta2 = static_cast<S>(p.beta2);
  const S one_minus_beta2 = static_cast<S>(1.0 - p.beta2);
  const S bias_correction2_sqrt = static_cast<S>(std::sqrt(bias_correction2));
  const S eps = static_cast<S>(p.eps);
  const S neg_step_size = static_cast<S>(-step_size);
  const bool decays = decay != S(1);

  parallel_chunks(n, [&](index_t begin, index_t len) {
    S* PREFOPT_RESTRICT w = params + begin;
    const S* PREFOPT_RESTRICT g = grads + begin;
    S* PREFOPT_RESTRICT m = exp_avg + begin;
    S* PREFOPT_RESTRICT v = exp_avg_sq + begin;
    // A pass of its own: fused into the addcdiv below, a contracting compiler would turn
    // w*decay + u into one fma and skip PyTorch's rounding of the decayed parameter. The chunk
    // is L1-resident, so the second pass costs little.
    if (decays)
      for (index_t i = 0; i < len; ++i) w[i] *= decay;
    for (index_t i = 0; i < len; ++i) {
      const S gi = g[i];
      const S mi = std::fma(gi, one_minus_beta1, m[i] * beta1);
      const S vi = std::fma(one_minus_beta2 * gi, gi, v[i] * beta2);
      m[i] = mi;
      v[i] = vi;
      const S denom = std::sqrt(vi) / bias_correction2_sqrt + eps;
      w[i] = w[i] + (neg_step_size * mi) / denom;
    }
  });
}

}  // namespace prefopt::cpu
