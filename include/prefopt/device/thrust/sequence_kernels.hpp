// SPDX-License-Identifier: MIT
// The thrust device's per-sequence reductions and broadcasts (device/cpu/sequence_kernels.hpp):
// one thread per sequence sums its scored log-probs in position order (the CPU device's order,
// so the sums are bit-identical); one thread per token copies its sequence's weight.
#pragma once

#include "prefopt/device/thrust/attention.hpp"
#include "prefopt/device/thrust/thrust_device.hpp"

namespace prefopt::thrust_device {

namespace functors {
template <class S>
struct SequenceLogpSums {
  double* sums;
  const S* token_logps;
  const token_t* targets;
  const index_t* seq_offsets;
  PREFOPT_HOST_DEVICE void operator()(index_t s) const {
    double acc = 0;
    for (index_t t = seq_offsets[s]; t < seq_offsets[s + 1]; ++t)
      if (targets[t] != no_target) acc += static_cast<double>(token_logps[t]);
    sums[s] = acc;
  }
};
template <class S>
struct BroadcastSequenceWeights {
  S* token_weights;
  const S* seq_weights;
  const token_t* targets;
  const index_t* seq_offsets;
  index_t n_seq;
  PREFOPT_HOST_DEVICE void operator()(index_t t) const {
    const index_t s = sequence_of(seq_offsets, n_seq, t);
    token_weights[t] = targets[t] != no_target ? seq_weights[s] : S(0);
  }
};
}  // namespace functors

template <class Traits, class S>
void sequence_logp_sums(const ThrustDevice<Traits>& d, double* sums, const S* token_logps, const token_t* targets,
                        const index_t* seq_offsets, index_t n_seq) {
  for_each_index(d, n_seq, functors::SequenceLogpSums<S>{sums, token_logps, targets, seq_offsets});
}

/// n_tokens = seq_offsets[n_seq], from the caller's host copy: nothing is read back from the device.
template <class Traits, class S>
void broadcast_sequence_weights(const ThrustDevice<Traits>& d, S* token_weights, const S* seq_weights,
                                const token_t* targets, const index_t* seq_offsets, index_t n_seq, index_t n_tokens) {
  if (n_seq <= 0) return;
  for_each_index(d, n_tokens,
                 functors::BroadcastSequenceWeights<S>{token_weights, seq_weights, targets, seq_offsets, n_seq});
}

}  // namespace prefopt::thrust_device
