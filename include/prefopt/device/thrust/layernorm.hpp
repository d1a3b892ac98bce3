// SPDX-License-Identifier: MIT
// The thrust device's LayerNorm and fused log-softmax + target gather, portable forms: one thread
// per row for the row statistics and the input gradient, one thread per channel (rows in order)
// for the parameter gradients — the CPU device's arithmetic, so the OpenMP twin matches it and a
// GPU run can be compared against it. CudaDevice replaces them with warp/block-per-row kernels
// (device/cuda/layernorm.hpp, device/cuda/logsoftmax_gather.hpp) tested against these.
#pragma once

#include <cmath>

#include "prefopt/device/thrust/thrust_device.hpp"

namespace prefopt::thrust_device {

namespace functors {
template <class S>
struct LayernormForward {
  S* out;
  S* mean;
  S* rstd;
  const S* inp;
  const S* weight;
  const S* bias;
  index_t C;
  S eps;
  PREFOPT_HOST_DEVICE void operator()(index_t r) const {
    const S* x = inp + r * C;
    S* y = out + r * C;
    S m = 0;
    for (index_t c = 0; c < C; ++c) m += x[c];
    m /= static_cast<S>(C);
    S v = 0;  // two passes: no cancellation from E[x^2] - E[x]^2
    for (index_t c = 0; c < C; ++c) v += (x[c] - m) * (x[c] - m);
    v /= static_cast<S>(C);
    const S s = S(1) / std::sqrt(v + eps);
    for (index_t c = 0; c < C; ++c) y[c] = (x[c] - m) * s * weight[c] + bias[c];
    mean[r] = m;
    rstd[r] = s;
  }
};
template <class S>
struct LayernormBackwardInput {
  S* dinp;
  const S* dout;
  const S* inp;
  const S* weight;
  const S* mean;
  const S* rstd;
  index_t C;
  PREFOPT_HOST_DEVICE void operator()(index_t r) const {
    const S* dy = dout + r * C;
    const S* x = inp + r * C;
    const S m = mean[r], s = rstd[r];
    S g_mean = 0, gx_mean = 0;
    for (index_t c = 0; c < C; ++c) {
      const S g = dy[c] * weight[c];
      g_mean += g;
      gx_mean += g * (x[c] - m) * s;
    }
    g_mean /= static_cast<S>(C);
    gx_mean /= static_cast<S>(C);
    S* dx = dinp + r * C;
    for (index_t c = 0; c < C; ++c) {
      const S xhat = (x[c] - m) * s;
      dx[c] += s * (dy[c] * weight[c] - g_mean - xhat * gx_mean);
    }
  }
};
template <class S>
struct LayernormBackwardParams {
  S* dweight;
  S* dbias;
  const S* dout;
  const S* inp;
  const S* mean;
  const S* rstd;
  index_t rows, C;
  PREFOPT_HOST_DEVICE void operator()(index_t c) const {
    S dw = dweight[c], db = dbias[c];
    for (index_t r = 0; r < rows; ++r) {
      const S dy = dout[r * C + c];
      dw += dy * (inp[r * C + c] - mean[r]) * rstd[r];
      db += dy;
    }
    dweight[c] = dw;
    dbias[c] = db;
  }
};
template <class S>
struct LogsoftmaxGatherForward {
  S* logp;
  S* lse;
  const S* logits;
  const token_t* targets;
  index_t V;
  PREFOPT_HOST_DEVICE void operator()(index_t r) const {
    const S* z = logits + r * V;
    S mx = z[0];
    for (index_t v = 1; v < V; ++v) mx = z[v] > mx ? z[v] : mx;
    S sum = 0;
    for (index_t v = 0; v < V; ++v) sum += std::exp(z[v] - mx);
    const S l = mx + std::log(sum);
    lse[r] = l;
    logp[r] = z[targets[r]] - l;
  }
};
template <class S>
struct LogsoftmaxGatherBackward {  // one thread per logit: dlogit = w (onehot - softmax)
  S* logits;
  const S* lse;
  const token_t* targets;
  const S* weights;
  index_t V;
  PREFOPT_HOST_DEVICE void operator()(index_t k) const {
    const index_t r = k / V, v = k % V;
    const S w = weights[r];
    S g = -w * std::exp(logits[k] - lse[r]);
    if (v == static_cast<index_t>(targets[r])) g += w;
    logits[k] = g;
  }
};
}  // namespace functors

namespace portable {

/// out (rows, C), mean (rows), rstd (rows)  <-  inp (rows, C), weight (C), bias (C).
template <class Traits, class S>
void layernorm_forward(const ThrustDevice<Traits>& d, S* out, S* mean, S* rstd, const S* inp, const S* weight,
                       const S* bias, index_t rows, index_t channels, S eps) {
  for_each_index(d, rows, functors::LayernormForward<S>{out, mean, rstd, inp, weight, bias, channels, eps});
}

/// dinp (rows, C) +=, dweight (C) +=, dbias (C) +=; dinp may not alias dout.
template <class Traits, class S>
void layernorm_backward(const ThrustDevice<Traits>& d, S* dinp, S* dweight, S* dbias, const S* dout, const S* inp,
                        const S* weight, const S* mean, const S* rstd, index_t rows, index_t channels) {
  for_each_index(d, rows, functors::LayernormBackwardInput<S>{dinp, dout, inp, weight, mean, rstd, channels});
  for_each_index(d, channels, functors::LayernormBackwardParams<S>{dweight, dbias, dout, inp, mean, rstd, rows, channels});
}

/// logp (rows), lse (rows)  <-  logits (rows, V), targets (rows) in [0, V).
template <class Traits, class S>
void logsoftmax_gather_forward(const ThrustDevice<Traits>& d, S* logp, S* lse, const S* logits, const token_t* targets,
                               index_t rows, index_t vocab) {
  for_each_index(d, rows, functors::LogsoftmaxGatherForward<S>{logp, lse, logits, targets, vocab});
}

/// In place: logits (rows, V) becomes weights[r] * (onehot(targets[r]) - softmax)  (=).
template <class Traits, class S>
void logsoftmax_gather_backward(const ThrustDevice<Traits>& d, S* logits, const S* lse, const token_t* targets,
                                const S* weights, index_t rows, index_t vocab) {
  for_each_index(d, rows * vocab, functors::LogsoftmaxGatherBackward<S>{logits, lse, targets, weights, vocab});
}

}  // namespace portable

// The kernels above are the portable twins: what every ThrustDevice runs unless its system has
// faster ones (CudaDevice overloads these four in device/cuda.hpp with the warp/block-per-row
// kernels of device/cuda/). `portable::` names them explicitly, so a GPU test can run both on
// the same device and compare.
template <class Traits, class S>
void layernorm_forward(const ThrustDevice<Traits>& d, S* out, S* mean, S* rstd, const S* inp, const S* weight,
                       const S* bias, index_t rows, index_t channels, S eps) {
  portable::layernorm_forward(d, out, mean, rstd, inp, weight, bias, rows, channels, eps);
}
template <class Traits, class S>
void layernorm_backward(const ThrustDevice<Traits>& d, S* dinp, S* dweight, S* dbias, const S* dout, const S* inp,
                        const S* weight, const S* mean, const S* rstd, index_t rows, index_t channels) {
  portable::layernorm_backward(d, dinp, dweight, dbias, dout, inp, weight, mean, rstd, rows, channels);
}
template <class Traits, class S>
void logsoftmax_gather_forward(const ThrustDevice<Traits>& d, S* logp, S* lse, const S* logits, const token_t* targets,
                               index_t rows, index_t vocab) {
  portable::logsoftmax_gather_forward(d, logp, lse, logits, targets, rows, vocab);
}
template <class Traits, class S>
void logsoftmax_gather_backward(const ThrustDevice<Traits>& d, S* logits, const S* lse, const token_t* targets,
                                const S* weights, index_t rows, index_t vocab) {
  portable::logsoftmax_gather_backward(d, logits, lse, targets, weights, rows, vocab);
}

}  // namespace prefopt::thrust_device
