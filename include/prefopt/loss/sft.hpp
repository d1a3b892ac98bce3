// SPDX-License-Identifier: MIT
// Sft: supervised fine-tuning on the chosen completion only (the prefopt SFT stage that makes a
// policy before DPO; TRL's loss_type="sft" in DPOTrainer and its SFTTrainer): token-level
// cross-entropy of y_w given x.
//   per pair: ℓ = -S_w,   dℓ/dS_w = -1,   dℓ/dS_l = 0
// Normalization::PerToken: the trainer sums ℓ over the pairs of an optimizer step and divides by
// the step's total number of chosen completion tokens, i.e. the token-mean cross-entropy over the
// accumulated step, as transformers >= 4.46 computes it under gradient accumulation
// (num_items_in_batch). So every chosen token weighs the same, whatever its pair's length.
// Logged: rewards/* = 0 (no preference), logps/chosen = S_w, logps/rejected = 0 (the rejected
// completion is not read: uses_rejected = false), nll_loss = -S_w/|y_w| (this pair's token mean).
#pragma once

#include "prefopt/loss/pair_loss.hpp"

namespace prefopt::loss {

struct Sft {
  static constexpr const char* name = "sft";
  static constexpr bool needs_reference = false;
  static constexpr bool uses_rejected = false;
  static constexpr LogpReduction reduction = LogpReduction::Sum;
  static constexpr Normalization normalization = Normalization::PerToken;

  /// No hyperparameters.
  void validate() const {}

  PREFOPT_HOST_DEVICE PairLoss operator()(const PairLogps& p) const noexcept {
    PairLoss out;
    out.loss = -p.policy_chosen;
    out.d_policy_chosen = -1.0;
    out.logp_chosen = p.policy_chosen;
    out.nll = -p.policy_chosen / static_cast<double>(p.chosen_tokens);
    return out;
  }
};

}  // namespace prefopt::loss
