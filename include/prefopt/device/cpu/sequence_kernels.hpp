// SPDX-License-Identifier: MIT
// Per-sequence reductions and broadcasts of a packed batch, so that a training step moves only one
// number per sequence between host and device (the loss runs on the host, in double, per pair):
//   sequence_logp_sums:          sums[s] = Σ token_logps[t] over t in sequence s with a target,
//                                in position order, accumulated in double
//   broadcast_sequence_weights:  token_weights[t] = seq_weights[s] where t has a target, else 0
// seq_offsets (n_seq+1) as in PackedBatch; targets (n_tokens) with no_target for unscored rows.
#pragma once

#include "prefopt/device/cpu/cpu_device.hpp"

namespace prefopt::cpu {

template <class S>
void sequence_logp_sums(const CpuDevice&, double* sums, const S* token_logps, const token_t* targets,
                        const index_t* seq_offsets, index_t n_seq) {
  PREFOPT_OMP(omp parallel for schedule(static))
  for (index_t s = 0; s < n_seq; ++s) {
    double acc = 0;
    for (index_t t = seq_offsets[s]; t < seq_offsets[s + 1]; ++t)
      if (targets[t] != no_target) acc += static_cast<double>(token_logps[t]);
    sums[s] = acc;
  }
}

template <class S>
void broadcast_sequence_weights(const CpuDevice&, S* token_weights, const S* seq_weights, const token_t* targets,
                                const index_t* seq_offsets, index_t n_seq, index_t /*n_tokens*/) {
  PREFOPT_OMP(omp parallel for schedule(static))
  for (index_t s = 0; s < n_seq; ++s)
    for (index_t t = seq_offsets[s]; t < seq_offsets[s + 1]; ++t)
      token_weights[t] = targets[t] != no_target ? seq_weights[s] : S(0);
}

}  // namespace prefopt::cpu
