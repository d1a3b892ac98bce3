// SPDX-License-Identifier: MIT
// Dpo: Direct Preference Optimization (Rafailov et al. 2023, arXiv 2305.18290, Eq. 7) with the
// conservative-DPO label smoothing ε (Mitchell 2023, "A note on DPO with noisy preferences and
// relationship to IPO", ericmitchell.ai/cdpo.pdf, Eq. 3):
//   h = (S_w - S_l) - (ref_w - ref_l),   z = β h
//   ℓ = -(1-ε) log σ(z) - ε log σ(-z)
// Written as TRL 0.12-0.15 DPOTrainer.dpo_loss, loss_type="sigmoid" (logits = logratios -
// ref_logratios; losses = -logsigmoid(β·logits)(1-ε) - logsigmoid(-β·logits)ε); TRL removed ε in
// v0.29 (#3906). Defaults: DPOConfig beta = 0.1, label_smoothing = 0; the paper's App. B also uses
// β = 0.1. ε = 0 is plain DPO.
// Gradient: d/dz[-log σ(z)] = -σ(-z) and d/dz[-log σ(-z)] = σ(z), so
//   dℓ/dz = -(1-ε) σ(-z) + ε σ(z)   (= σ(z) - (1-ε), kept as two stable terms),
//   dℓ/dS_w = β dℓ/dz,  dℓ/dS_l = -β dℓ/dz.
// Logged (TRL): rewards/* = β (S - ref) per completion, logps/* = S.
// rpo_alpha α > 0 adds RPO's NLL of the chosen completion (Pang et al. 2024, arXiv 2404.19733;
// TRL 0.12-0.28 DPOConfig.rpo_alpha, default None = 0): ℓ += α · (−S_w/|y_w|), so
// dℓ/dS_w gains −α/|y_w|. TRL averages that NLL over all chosen tokens of the micro-batch; here it
// is each pair's own token mean (the two agree when completions have equal lengths). It counters
// DPO's "likelihood displacement" (the chosen log-prob falling with the rejected one).
#pragma once

#include "prefopt/loss/pair_loss.hpp"
#include "prefopt/loss/stable_math.hpp"

namespace prefopt::loss {

struct Dpo {
  double beta = 0.1;             // β: strength of the implicit KL penalty (TRL `beta`)
  double label_smoothing = 0.0;  // ε: assumed probability that a preference label is flipped
  double rpo_alpha = 0.0;        // α: weight of the chosen completion's per-token NLL (RPO); 0 = plain DPO

  static constexpr const char* name = "dpo";  // TRL's loss_type "sigmoid"
  static constexpr bool needs_reference = true;
  static constexpr bool uses_rejected = true;
  static constexpr LogpReduction reduction = LogpReduction::Sum;
  static constexpr Normalization normalization = Normalization::PerPair;

  /// beta finite and > 0; 0 <= label_smoothing < 0.5 (ε >= 0.5 would reward the rejected answer).
  void validate() const {
    detail::check_positive("Dpo", "beta", beta);
    PREFOPT_CHECK(label_smoothing >= 0 && label_smoothing < 0.5, "Dpo: label_smoothing must be in [0, 0.5), got ",
                  label_smoothing);
    detail::check_non_negative("Dpo", "rpo_alpha", rpo_alpha);
  }

  PREFOPT_HOST_DEVICE PairLoss operator()(const PairLogps& p) const noexcept {
    const double h = (p.policy_chosen - p.policy_rejected) - (p.reference_chosen - p.reference_rejected);
    const double z = beta * h;
    const double eps = label_smoothing;
    const double dz = -(1 - eps) * sigmoid(-z) + eps * sigmoid(z);
    PairLoss out;
    out.loss = -log_sigmoid(z) * (1 - eps) - log_sigmoid(-z) * eps;
    out.d_policy_chosen = beta * dz;
    out.d_policy_rejected = -beta * dz;
    out.reward_chosen = beta * (p.policy_chosen - p.reference_chosen);
    out.reward_rejected = beta * (p.policy_rejected - p.reference_rejected);
    out.logp_chosen = p.policy_chosen;
    out.logp_rejected = p.policy_rejected;
    if (rpo_alpha > 0) {
      const double nw = static_cast<double>(p.chosen_tokens);
      out.nll = -p.policy_chosen / nw;
      out.loss += rpo_alpha * out.nll;
      out.d_policy_chosen -= rpo_alpha / nw;
    }
    return out;
  }
};

}  // namespace prefopt::loss
