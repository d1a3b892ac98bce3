// SPDX-License-Identifier: MIT
// LayerNorm over the last dimension, as torch.nn.LayerNorm (biased variance, eps inside the sqrt):
//   y = (x - mean) * rstd * weight + bias,   rstd = 1 / sqrt(var + eps).
// Backward (derivation: docs/kernels.md#layernorm), with xhat = (x - mean) * rstd, g = dy * weight:
//   dx = rstd * (g - mean(g) - xhat * mean(g * xhat)).
#pragma once

#include <cmath>

#include "prefopt/device/cpu/cpu_device.hpp"

namespace prefopt::cpu {

/// out (rows, C), mean (rows), rstd (rows)  <-  inp (rows, C), weight (C), bias (C).
template <class S>
void layernorm_forward(const CpuDevice&, S* out, S* mean, S* rstd, const S* inp, const S* weight,
                       const S* bias, index_t rows, index_t channels, S eps) {
  PREFOPT_OMP(omp parallel for schedule(static))
  for (index_t r = 0; r < rows; ++r) {
    const S* x = inp + r * channels;
    S* y = out + r * channels;
    S m = 0;
    for (index_t c = 0; c < channels; ++c) m += x[c];
    m /= static_cast<S>(channels);
    S v = 0;  // two passes: no cancellation from E[x^2] - E[x]^2
    for (index_t c = 0; c < channels; ++c) v += (x[c] - m) * (x[c] - m);
    v /= static_cast<S>(channels);
    const S s = S(1) / std::sqrt(v + eps);
    for (index_t c = 0; c < channels; ++c) y[c] = (x[c] - m) * s * weight[c] + bias[c];
    mean[r] = m;
    rstd[r] = s;
  }
}

/// dinp (rows, C) += ..., dweight (C) += ..., dbias (C) += ...   <-  dout (rows, C) and the
/// forward's inp, weight, mean, rstd. dinp may not alias dout.
template <class S>
void layernorm_backward(const CpuDevice&, S* dinp, S* dweight, S* dbias, const S* dout,
                        const S* inp, const S* weight, const S* mean, const S* rstd, index_t rows,
                        index_t channels) {
  PREFOPT_OMP(omp parallel for schedule(static))
  for (index_t r = 0; r < rows; ++r) {
    const S* dy = dout + r * channels;
    const S* x = inp + r * channels;
    const S m = mean[r], s = rstd[r];
    S g_mean = 0, gx_mean = 0;
    for (index_t c = 0; c < channels; ++c) {
      const S g = dy[c] * weight[c];
      g_mean += g;
      gx_mean += g * (x[c] - m) * s;
    }
    g_mean /= static_cast<S>(channels);
    gx_mean /= static_cast<S>(channels);
    S* dx = dinp + r * channels;
    for (index_t c = 0; c < channels; ++c) {
      const S xhat = (x[c] - m) * s;
      dx[c] += s * (dy[c] * weight[c] - g_mean - xhat * gx_mean);
    }
  }
  // Parameter gradients: per column block, rows in order (deterministic for any thread count).
  parallel_column_blocks(channels, [&](index_t c0, index_t c1) {
    for (index_t r = 0; r < rows; ++r) {
      const S* dy = dout + r * channels;
      const S* x = inp + r * channels;
      const S m = mean[r], s = rstd[r];
      for (index_t c = c0; c < c1; ++c) {
        dweight[c] += dy[c] * (x[c] - m) * s;
        dbias[c] += dy[c];
      }
    }
  });
}

}  // namespace prefopt::cpu
