// SPDX-License-Identifier: MIT
// Slic: SLiC-HF as its paper defines it (Zhao et al. 2023, "SLiC-HF: Sequence Likelihood
// Calibration with Human Feedback", arXiv 2305.10425, Sec. 2, SLiC-HF-direct on human preference
// pairs): a rank hinge on the POLICY's sequence log-probs — no reference model — plus a
// regularizer that keeps the chosen completion likely:
//   ℓ = max(0, δ - (S_w - S_l)) + λ·(-S_w/|y_w|)
// The paper's regularizer is -λ log P_θ(y_ref|x) on an SFT target y_ref; here y_ref = y_w and the
// NLL is the per-token mean -A_w (so λ weighs it like a token-mean cross-entropy, independent of the
// completion's length). No anchor ships this form (TRL's loss_type="hinge" is RSO's reference-based
// hinge, hinge.hpp); ../shared/ANCHORS.md §b.2: δ is a positive margin, λ a regularization
// weight, community re-implementations use δ = 1.0, λ ∈ {0.1, 0.5} — the defaults here.
// Gradient (subgradient 0 at the kink δ - (S_w - S_l) = 0, like torch.relu):
//   dℓ/dS_w = -1[δ - (S_w - S_l) > 0] - λ/|y_w|,  dℓ/dS_l = +1[δ - (S_w - S_l) > 0].
// Logged: there is no β, so rewards/* = S (the policy's summed log-probs, the quantities the hinge
// compares; rewards/margins is then S_w - S_l against δ); logps/* = S; nll_loss = -A_w.
#pragma once

#include "prefopt/loss/pair_loss.hpp"

namespace prefopt::loss {

struct Slic {
  double delta = 1.0;   // δ: the required log-likelihood margin S_w - S_l, in nats per sequence
  double lambda = 0.1;  // λ: weight of the chosen completion's per-token NLL

  static constexpr const char* name = "slic";
  static constexpr bool needs_reference = false;
  static constexpr bool uses_rejected = true;
  static constexpr LogpReduction reduction = LogpReduction::Sum;
  static constexpr Normalization normalization = Normalization::PerPair;

  /// delta and lambda finite and >= 0.
  void validate() const {
    detail::check_non_negative("Slic", "delta", delta);
    detail::check_non_negative("Slic", "lambda", lambda);
  }

  PREFOPT_HOST_DEVICE PairLoss operator()(const PairLogps& p) const noexcept {
    const double nw = static_cast<double>(p.chosen_tokens);
    const double margin = delta - (p.policy_chosen - p.policy_rejected);
    const bool active = margin > 0;
    const double nll = -p.policy_chosen / nw;
    PairLoss out;
    out.loss = (active ? margin : 0.0) + lambda * nll;
    out.d_policy_chosen = (active ? -1.0 : 0.0) - lambda / nw;
    out.d_policy_rejected = active ? 1.0 : 0.0;
    out.reward_chosen = p.policy_chosen;
    out.reward_rejected = p.policy_rejected;
    out.logp_chosen = p.policy_chosen;
    out.logp_rejected = p.policy_rejected;
    out.nll = nll;
    return out;
  }
};

}  // namespace prefopt::loss
