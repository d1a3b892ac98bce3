// SPDX-License-Identifier: MIT
// Hinge: the normalized hinge loss of RSO (Liu et al. 2023, "Statistical Rejection Sampling
// Improves Preference Optimization", arXiv 2309.06657, the "hinge-norm" loss), as TRL 0.12-0.15
// DPOTrainer.dpo_loss writes it for loss_type="hinge":
//   h = (S_w - S_l) - (ref_w - ref_l)
//   ℓ = max(0, 1 - β h)
// β plays RSO's γ, "the reciprocal of the margin" (TRL docs); default TRL DPOConfig beta = 0.1
// (RSO's own setting is γ = 0.05). This is NOT the original SLiC-HF hinge (slic.hpp), which has no
// reference model.
// Gradient: dℓ/dS_w = -β, dℓ/dS_l = +β while 1 - β h > 0; 0 otherwise. At the kink (1 - β h = 0
// exactly) the subgradient 0 is used, as torch.relu's backward does.
// Logged (TRL): rewards/* = β (S - ref), logps/* = S.
#pragma once

#include "prefopt/loss/pair_loss.hpp"

namespace prefopt::loss {

struct Hinge {
  double beta = 0.1;  // RSO's γ: the loss is zero once β h >= 1

  static constexpr const char* name = "hinge";
  static constexpr bool needs_reference = true;
  static constexpr bool uses_rejected = true;
  static constexpr LogpReduction reduction = LogpReduction::Sum;
  static constexpr Normalization normalization = Normalization::PerPair;

  /// beta finite and > 0.
  void validate() const { detail::check_positive("Hinge", "beta", beta); }

  PREFOPT_HOST_DEVICE PairLoss operator()(const PairLogps& p) const noexcept {
    const double h = (p.policy_chosen - p.policy_rejected) - (p.reference_chosen - p.reference_rejected);
    const double margin = 1 - beta * h;
    const bool active = margin > 0;
    PairLoss out;
    out.loss = active ? margin : 0.0;
    out.d_policy_chosen = active ? -beta : 0.0;
    out.d_policy_rejected = active ? beta : 0.0;
    out.reward_chosen = beta * (p.policy_chosen - p.reference_chosen);
    out.reward_rejected = beta * (p.policy_rejected - p.reference_rejected);
    out.logp_chosen = p.policy_chosen;
    out.logp_rejected = p.policy_rejected;
    return out;
  }
};

}  // namespace prefopt::loss
