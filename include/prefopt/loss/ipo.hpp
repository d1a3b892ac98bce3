// SPDX-License-Identifier: MIT
// Ipo: Identity Preference Optimization (Azar et al. 2023, "A General Theoretical Paradigm to
// Understand Learning from Human Preferences", arXiv 2310.12036, Eq. 17: (h_π - 1/(2τ))²), in
// TRL's LENGTH-AVERAGED form (TRL PR #1265, "confirmed with the IPO authors"; TRL 0.12-0.15
// concatenated_forward divides the summed log-probs by the completion length when
// loss_type="ipo"):
//   h̄ = (A_w - A_l) - (refA_w - refA_l),   A = S/|y|, refA = ref/|y|
//   ℓ = (h̄ - 1/(2β))²
// β plays the paper's τ; default TRL DPOConfig beta = 0.1, i.e. a target margin of 5 nats PER TOKEN.
// The paper and OpenRLHF/NeMo use summed log-probs instead (no /|y|): with the same β that target
// is 5 nats per SEQUENCE, a very different objective (../docs/losses.md, "IPO: sum or mean").
// Gradient: dℓ/dh̄ = 2(h̄ - 1/(2β)); dh̄/dS_w = 1/|y_w|, dh̄/dS_l = -1/|y_l|.
// Logged (TRL, averaged logps): rewards/* = β (A - refA), logps/* = A.
#pragma once

#include "prefopt/loss/pair_loss.hpp"

namespace prefopt::loss {

struct Ipo {
  double beta = 0.1;  // τ of the paper (TRL `beta`): the target margin is 1/(2β) nats per token

  static constexpr const char* name = "ipo";
  static constexpr bool needs_reference = true;
  static constexpr bool uses_rejected = true;
  static constexpr LogpReduction reduction = LogpReduction::Mean;
  static constexpr Normalization normalization = Normalization::PerPair;

  /// beta finite and > 0.
  void validate() const { detail::check_positive("Ipo", "beta", beta); }

  PREFOPT_HOST_DEVICE PairLoss operator()(const PairLogps& p) const noexcept {
    const double nw = static_cast<double>(p.chosen_tokens), nl = static_cast<double>(p.rejected_tokens);
    const double a_w = p.policy_chosen / nw, a_l = p.policy_rejected / nl;
    const double ref_a_w = p.reference_chosen / nw, ref_a_l = p.reference_rejected / nl;
    const double h = (a_w - a_l) - (ref_a_w - ref_a_l);  // TRL: logratios - ref_logratios
    const double diff = h - 1 / (2 * beta);
    PairLoss out;
    out.loss = diff * diff;
    out.d_policy_chosen = 2 * diff / nw;
    out.d_policy_rejected = -2 * diff / nl;
    out.reward_chosen = beta * (a_w - ref_a_w);
    out.reward_rejected = beta * (a_l - ref_a_l);
    out.logp_chosen = a_w;
    out.logp_rejected = a_l;
    return out;
  }
};

}  // namespace prefopt::loss
