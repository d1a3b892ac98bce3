// SPDX-License-Identifier: MIT
// SimPo: Simple Preference Optimization with a reference-free reward (Meng, Xia, Chen 2024,
// arXiv 2405.14734, the SimPO objective): the implicit reward is the length-averaged policy
// log-prob β·A(y), and a target reward margin γ is subtracted inside the Bradley-Terry sigmoid:
//   z = β(A_w - A_l) - γ,   ℓ = -log σ(z)
// Written as TRL's CPOTrainer.cpo_loss with loss_type="simpo" (averaged logps; logits = (A_w - A_l)
// - γ/β, loss -logsigmoid(β·logits)) with cpo_alpha = 0, i.e. pure SimPO without CPO's NLL term.
// Defaults: TRL CPOConfig beta = 0.1, simpo_gamma = 0.5 (LLaMA-Factory's simpo_gamma is 0.5 too).
// The paper's recommended settings are much larger: β ≈ 2.0-2.5, γ/β ≈ 0.5 (README; released
// configs β = 2, γ/β = 0.8 for Mistral-base) — set them explicitly.
// Gradient: dℓ/dz = -σ(-z); dz/dS_w = β/|y_w|, dz/dS_l = -β/|y_l|.
// Logged (TRL CPOTrainer): rewards/* = β·A, logps/* = A.
#pragma once

#include "prefopt/loss/pair_loss.hpp"
#include "prefopt/loss/stable_math.hpp"

namespace prefopt::loss {

struct SimPo {
  double beta = 0.1;   // β: reward scale (TRL CPOConfig `beta`)
  double gamma = 0.5;  // γ: target reward margin (TRL CPOConfig `simpo_gamma`), in units of β·A

  static constexpr const char* name = "simpo";
  static constexpr bool needs_reference = false;
  static constexpr bool uses_rejected = true;
  static constexpr LogpReduction reduction = LogpReduction::Mean;
  static constexpr Normalization normalization = Normalization::PerPair;

  /// beta finite and > 0; gamma finite and >= 0.
  void validate() const {
    detail::check_positive("SimPo", "beta", beta);
    detail::check_non_negative("SimPo", "gamma", gamma);
  }

  PREFOPT_HOST_DEVICE PairLoss operator()(const PairLogps& p) const noexcept {
    const double nw = static_cast<double>(p.chosen_tokens), nl = static_cast<double>(p.rejected_tokens);
    const double a_w = p.policy_chosen / nw, a_l = p.policy_rejected / nl;
    const double z = beta * ((a_w - a_l) - gamma / beta);  // TRL's order of operations
    const double dz = -sigmoid(-z);
    PairLoss out;
    out.loss = -log_sigmoid(z);
    out.d_policy_chosen = dz * beta / nw;
    out.d_policy_rejected = -dz * beta / nl;
    out.reward_chosen = beta * a_w;
    out.reward_rejected = beta * a_l;
    out.logp_chosen = a_w;
    out.logp_rejected = a_l;
    return out;
  }
};

}  // namespace prefopt::loss
