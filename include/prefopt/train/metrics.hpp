// SPDX-License-Identifier: MIT
// Training metrics with TRL's names, computed once per logging window with exact pair weighting:
// every pair of every micro-batch, accumulation step and rank counts once (the metric-aggregation
// bugs of ANCHORS.md §c.7 — means of means, per-device values, sums over micro-steps — cannot
// happen). The sums are plain doubles so a communicator can all-reduce them and a checkpoint can
// store them exactly.
#pragma once

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "prefopt/core/error.hpp"
#include "prefopt/core/types.hpp"
#include "prefopt/loss/pair_loss.hpp"

namespace prefopt {

/// Sums over the pairs seen since the last reset.
struct MetricSums {
  enum Field {
    pairs,           // number of pairs
    loss_numerator,  // Σ ℓ (PerPair) or Σ −S_w (PerToken)
    loss_denominator,// pairs (PerPair) or chosen completion tokens (PerToken)
    reward_chosen,
    reward_rejected,
    correct,         // pairs with reward_chosen > reward_rejected (strict: ties are wrong, as TRL)
    logp_chosen,
    logp_rejected,
    nll,
    n_fields
  };
  std::array<double, n_fields> v{};

  double& operator[](Field f) noexcept { return v[f]; }
  double operator[](Field f) const noexcept { return v[f]; }
  void reset() noexcept { v.fill(0.0); }

  /// Adds one pair. `loss_contribution` / `denominator_contribution` follow the loss's normalization.
  void add(const loss::PairLoss& r, double loss_contribution, double denominator_contribution) noexcept {
    v[pairs] += 1;
    v[loss_numerator] += loss_contribution;
    v[loss_denominator] += denominator_contribution;
    v[reward_chosen] += r.reward_chosen;
    v[reward_rejected] += r.reward_rejected;
    v[correct] += r.reward_chosen > r.reward_rejected ? 1.0 : 0.0;
    v[logp_chosen] += r.logp_chosen;
    v[logp_rejected] += r.logp_rejected;
    v[nll] += r.nll;
  }

  /// TRL's metric names (DPOTrainer.get_batch_loss_metrics), each a mean over the window's pairs;
  /// `prefix` is "" for training and "eval_" for evaluation. `pairwise` false (SFT) leaves out
  /// the rejected/reward metrics, which mean nothing there.
  nlohmann::ordered_json to_json(const std::string& prefix, bool pairwise, bool has_nll) const {
    nlohmann::ordered_json out;
    const double n = v[pairs];
    if (n <= 0) return out;
    out[prefix + "loss"] = v[loss_denominator] > 0 ? v[loss_numerator] / v[loss_denominator] : 0.0;
    if (pairwise) {
      out[prefix + "rewards/chosen"] = v[reward_chosen] / n;
      out[prefix + "rewards/rejected"] = v[reward_rejected] / n;
      out[prefix + "rewards/accuracies"] = v[correct] / n;
      out[prefix + "rewards/margins"] = (v[reward_chosen] - v[reward_rejected]) / n;
      out[prefix + "logps/chosen"] = v[logp_chosen] / n;
      out[prefix + "logps/rejected"] = v[logp_rejected] / n;
    } else {
      out[prefix + "logps/chosen"] = v[logp_chosen] / n;
    }
    if (has_nll) out[prefix + "nll_loss"] = v[nll] / n;
    return out;
  }

  nlohmann::json to_state() const { return nlohmann::json(v); }
  void from_state(const nlohmann::json& j) {
    const auto values = j.get<std::vector<double>>();
    PREFOPT_CHECK(values.size() == v.size(), "MetricSums: a saved state has ", values.size(), " fields, expected ",
                  v.size());
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = values[i];
  }
};

}  // namespace prefopt
