// SPDX-License-Identifier: MIT
// Orpo: Odds Ratio Preference Optimization (Hong, Lee, Thorne 2024, "ORPO: Monolithic Preference
// Optimization without Reference Model", arXiv 2403.07691): an SFT loss on the chosen completion
// plus λ times the odds-ratio loss, with P(y) = exp(A(y)) (length-averaged log-prob):
//   log odds(A) = A - log(1 - e^A)
//   L = log odds(A_w) - log odds(A_l)
//   ℓ = -A_w - λ log σ(L)
// Written as TRL's ORPOTrainer.odds_ratio_loss (log_odds = (A_w - A_l) - (log1p(-exp(A_w)) -
// log1p(-exp(A_l))); loss = nll - β·logsigmoid(log_odds)), except that log(1 - e^A) is
// log1mexp(A), which keeps its digits when A is near 0 where log1p(-exp(A)) loses them.
// Default: TRL ORPOConfig beta (= the paper's λ) = 0.1, the paper's λ for Mistral-ORPO-β.
// Difference from TRL: TRL's NLL is the token mean of the chosen completions' cross-entropy over
// the whole micro-batch (Σ -S_w / Σ |y_w|); here it is per pair, -A_w, averaged over pairs like
// the rest of the loss. They agree when every chosen completion has the same length
// (../docs/losses.md).
// Precondition: A_w < 0 and A_l < 0 — true for the log-prob of any completion under a softmax with
// more than one reachable token. At A = 0 the odds are infinite and the result is inf/NaN; values
// as close as A = -1e-12 are finite and accurate.
// Gradient: d log odds/dA = 1 + e^A/(1 - e^A) = 1/(1 - e^A) = -1/expm1(A); d(-log σ(L))/dL = -σ(-L):
//   dℓ/dA_w = -1 - λ σ(-L)/(1 - e^{A_w}),   dℓ/dA_l = λ σ(-L)/(1 - e^{A_l}),
//   dℓ/dS = dℓ/dA / |y|.
// Logged (TRL ORPOTrainer): rewards/* = λ·A (TRL's beta·policy logps), logps/* = A,
// nll_loss = -A_w.
#pragma once

#include <cmath>

#include "prefopt/loss/pair_loss.hpp"
#include "prefopt/loss/stable_math.hpp"

namespace prefopt::loss {

struct Orpo {
  double lambda = 0.1;  // λ: weight of the odds-ratio term (TRL ORPOConfig `beta`)

  static constexpr const char* name = "orpo";
  static constexpr bool needs_reference = false;
  static constexpr bool uses_rejected = true;
  static constexpr LogpReduction reduction = LogpReduction::Mean;
  static constexpr Normalization normalization = Normalization::PerPair;

  /// lambda finite and >= 0 (0: plain per-pair SFT on the chosen completion).
  void validate() const { detail::check_non_negative("Orpo", "lambda", lambda); }

  PREFOPT_HOST_DEVICE PairLoss operator()(const PairLogps& p) const noexcept {
    const double nw = static_cast<double>(p.chosen_tokens), nl = static_cast<double>(p.rejected_tokens);
    const double a_w = p.policy_chosen / nw, a_l = p.policy_rejected / nl;
    const double log_odds = (a_w - a_l) - (log1mexp(a_w) - log1mexp(a_l));
    const double s = sigmoid(-log_odds);
    // 1/(1 - e^A) = -1/expm1(A): exact for A near 0, and 1 + tiny far from it.
    const double dodds_w = -1 / std::expm1(a_w), dodds_l = -1 / std::expm1(a_l);
    PairLoss out;
    out.nll = -a_w;
    out.loss = out.nll - lambda * log_sigmoid(log_odds);
    out.d_policy_chosen = (-1 - lambda * s * dodds_w) / nw;
    out.d_policy_rejected = lambda * s * dodds_l / nl;
    out.reward_chosen = lambda * a_w;
    out.reward_rejected = lambda * a_l;
    out.logp_chosen = a_w;
    out.logp_rejected = a_l;
    return out;
  }
};

}  // namespace prefopt::loss
