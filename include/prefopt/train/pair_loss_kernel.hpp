// SPDX-License-Identifier: MIT
// The loss where the model runs. One task per pair reads that pair's completion log-prob sums
// straight from the device buffers the forward passes filled (the policy's, and the frozen or
// precomputed reference's), calls the loss policy (loss/pair_loss.hpp) and writes the pair's
// PairLoss and the weight dℓ/dS / N of each of its sequences, which broadcast_sequence_weights then
// spreads over the sequence's scored tokens for the backward. So forward, loss and backward of a
// micro-batch queue on the device with nothing read back in between; the trainer copies a step's
// PairLoss records to the host once, at the end of the step, for the metrics and the non-finite
// stop. Before that, PairLossGate calls the step's update off on the device when a pair's numbers
// are not finite. The trainer runs it with the device's for_each_index over the pairs: in pair order on the
// calling thread on the CPU device, one thrust::for_each on the thrust devices (a GPU thread per
// pair on CudaDevice).
//
// Layouts are the packed batch's (train/pair_scoring.hpp): with `per` = 2 sequences per pair,
// sequence 2k is pair k's chosen and 2k + 1 its rejected completion; with per = 1, sequence k is
// pair k's chosen completion. `token_counts` are the scored (completion) tokens per sequence.
#pragma once

#include <cstdint>

#include "prefopt/core/config.hpp"
#include "prefopt/core/finite.hpp"
#include "prefopt/core/types.hpp"
#include "prefopt/loss/pair_loss.hpp"

namespace prefopt {

template <class Loss, class Scalar>
struct PairLossKernel {
  Loss loss;
  const double* policy_sums = nullptr;     // (n_seq) S under the policy
  const double* reference_sums = nullptr;  // (n_seq) S under the reference; nullptr: 0 (reference-free)
  const index_t* token_counts = nullptr;   // (n_seq) |y|
  index_t per = 2;                         // sequences per pair: 2 (chosen, rejected) or 1 (chosen)
  double normalizer = 1;                   // N of the step's objective (pairs, or chosen tokens)
  Scalar* sequence_weights = nullptr;      // (n_seq) out: dℓ/dS / N; nullptr when scoring only
  loss::PairLoss* results = nullptr;       // (n_pairs) out

  PREFOPT_HOST_DEVICE void operator()(index_t k) const {
    const index_t c = k * per;
    loss::PairLogps p;
    p.policy_chosen = policy_sums[c];
    p.chosen_tokens = token_counts[c];
    if (per == 2) {
      p.policy_rejected = policy_sums[c + 1];
      p.rejected_tokens = token_counts[c + 1];
    } else {
      p.rejected_tokens = 1;  // unread by chosen-only losses; keeps PairLogps' precondition
    }
    if (reference_sums != nullptr) {
      p.reference_chosen = reference_sums[c];
      if (per == 2) p.reference_rejected = reference_sums[c + 1];
    }
    const loss::PairLoss r = loss(p);
    results[k] = r;
    if (sequence_weights != nullptr) {
      sequence_weights[c] = static_cast<Scalar>(r.d_policy_chosen / normalizer);
      if (per == 2) sequence_weights[c + 1] = static_cast<Scalar>(r.d_policy_rejected / normalizer);
    }
  }
};

/// One task: clears *proceed (the gradient clip's verdict, optim/grad_clip.hpp, which gates AdamW)
/// when any of the step's n_pairs results has a loss or dℓ/dS that is not finite — the host learns
/// of it only after the update was queued, so the update must not depend on the host's check.
struct PairLossGate {
  const loss::PairLoss* results = nullptr;
  index_t n_pairs = 0;
  std::int32_t* proceed = nullptr;

  PREFOPT_HOST_DEVICE void operator()(index_t) const {
    for (index_t k = 0; k < n_pairs; ++k) {
      const loss::PairLoss& r = results[k];
      if (!is_finite_value(r.loss) || !is_finite_value(r.d_policy_chosen) || !is_finite_value(r.d_policy_rejected)) {
        *proceed = 0;
        return;
      }
    }
  }
};

}  // namespace prefopt
