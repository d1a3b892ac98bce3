// SPDX-License-Identifier: MIT
// Fused log-softmax + target gather over the vocabulary:
//   logp[r] = logits[r, t_r] - logsumexp(logits[r, :]).
// The forward keeps the logits and one logsumexp per row; the backward overwrites the logits in
// place with d(sum_r w_r logp_r)/dlogits = w_r (onehot(t_r) - softmax(logits[r])), so the
// vocabulary-wide softmax is never materialised next to the logits.
#pragma once

#include <cmath>

#include "prefopt/device/cpu/cpu_device.hpp"

namespace prefopt::cpu {

/// logp (rows), lse (rows)  <-  logits (rows, V), targets (rows) in [0, V).
template <class S>
void logsoftmax_gather_forward(const CpuDevice&, S* logp, S* lse, const S* logits,
                               const token_t* targets, index_t rows, index_t vocab) {
  PREFOPT_OMP(omp parallel for schedule(static))
  for (index_t r = 0; r < rows; ++r) {
    ConstArrayMap<S> z(logits + r * vocab, vocab);
    const S mx = z.maxCoeff();
    const S l = mx + std::log((z - mx).exp().sum());
    lse[r] = l;
    logp[r] = z[targets[r]] - l;
  }
}

/// In place: logits (rows, V) becomes dlogits = weights[r] * (onehot(targets[r]) - softmax)  (=).
template <class S>
void logsoftmax_gather_backward(const CpuDevice&, S* logits, const S* lse, const token_t* targets,
                                const S* weights, index_t rows, index_t vocab) {
  PREFOPT_OMP(omp parallel for schedule(static))
  for (index_t r = 0; r < rows; ++r) {
    ArrayMap<S> z(logits + r * vocab, vocab);
    const S w = weights[r];
    z = -w * (z - lse[r]).exp();
    z[targets[r]] += w;
  }
}

}  // namespace prefopt::cpu
