// SPDX-License-Identifier: MIT
// Every loss's analytic dℓ/dS_w and dℓ/dS_l against central finite differences in double, over a
// grid of margins from -1e3 to 1e3 (in the loss's own argument: βh for Dpo/Hinge, h̄ for Ipo,
// S_w - S_l - δ for Slic, z for SimPo), token counts from 1 to 250 and several hyperparameter
// sets; Orpo over a grid of averaged log-probs down to -1e-8. Points within 1e-3 of a hinge kink
// are skipped (the derivative does not exist there). Plus: every output is finite at |βh| = 1e4.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "prefopt/loss/losses.hpp"

using namespace prefopt;
using namespace prefopt::loss;

namespace {

constexpr double fd_rel_tol = 1e-6;
// Absolute floor: rounding of the loss's argument itself (e.g. IPO's h̄ - 1/(2β) at its minimum,
// where ℓ ≈ 0 but h̄ carries an error of a few ulps of |A|) puts ~1e-16 into the quotient.
constexpr double fd_abs_floor = 1e-13;
constexpr double dbl_eps = std::numeric_limits<double>::epsilon();

const std::vector<double> margins{-1e3, -300, -30, -3, -1, -0.1, -1e-6, 0, 1e-6, 0.1, 0.5,
                                  0.998, 1.002, 3, 30, 300, 1e3};
const std::vector<std::pair<index_t, index_t>> token_counts{{1, 1}, {3, 17}, {250, 40}};

std::string describe(const PairLogps& p) {
  std::ostringstream out;
  out.precision(17);
  out << "S_w=" << p.policy_chosen << " S_l=" << p.policy_rejected << " ref_w=" << p.reference_chosen
      << " ref_l=" << p.reference_rejected << " |y_w|=" << p.chosen_tokens << " |y_l|=" << p.rejected_tokens;
  return out.str();
}

bool all_finite(const PairLoss& r) {
  for (double v : {r.loss, r.d_policy_chosen, r.d_policy_rejected, r.reward_chosen, r.reward_rejected,
                   r.logp_chosen, r.logp_rejected, r.nll})
    if (!std::isfinite(v)) return false;
  return true;
}

/// Central difference of ℓ in one of S_w, S_l. The step is 1e-4 nats, smaller (1e-4 relative)
/// for log-probs close to 0 (Orpo's log odds vary on the scale of |A| there). The tolerance is
/// fd_rel_tol relative plus the rounding noise of the difference quotient, 8 eps |ℓ| / (2 step),
/// plus fd_abs_floor.
struct Gradcheck {
  long compared = 0;

  template <class L>
  void operator()(const L& loss, const PairLogps& p) {
    const PairLoss at = loss(p);
    INFO(L::name << " at " << describe(p));
    REQUIRE(all_finite(at));
    check_one(loss, p, &PairLogps::policy_chosen, at.d_policy_chosen, "dS_w");
    check_one(loss, p, &PairLogps::policy_rejected, at.d_policy_rejected, "dS_l");
  }

  template <class L>
  void check_one(const L& loss, const PairLogps& p, double PairLogps::*field, double analytic, const char* what) {
    const double s = p.*field;
    const double step = s == 0 ? 1e-4 : std::min(1e-4, 1e-4 * std::fabs(s));
    PairLogps plus = p, minus = p;
    plus.*field = s + step;
    minus.*field = s - step;
    const double actual_2step = plus.*field - minus.*field;  // the step that was really taken
    const double l_plus = loss(plus).loss, l_minus = loss(minus).loss;
    const double fd = (l_plus - l_minus) / actual_2step;
    const double noise = 8 * dbl_eps * std::max(std::fabs(l_plus), std::fabs(l_minus)) / actual_2step;
    const double tol = fd_rel_tol * std::max(std::fabs(analytic), std::fabs(fd)) + noise + fd_abs_floor;
    INFO(what << ": analytic " << analytic << " vs central difference " << fd << " (tol " << tol << ")");
    CHECK(std::fabs(fd - analytic) <= tol);
    ++compared;
  }
};

// Pairs with a given loss argument m. Log-probs stay negative (S_l is pushed down when the margin
// would make S_w positive), as they are for a real model.
PairLogps reference_pair(double h, index_t nw, index_t nl) {  // (S_w - S_l) - (ref_w - ref_l) = h
  PairLogps p;
  p.reference_chosen = -30, p.reference_rejected = -25;
  p.policy_rejected = -10 - std::max(h, 0.0);
  p.policy_chosen = p.policy_rejected + (p.reference_chosen - p.reference_rejected) + h;
  p.chosen_tokens = nw, p.rejected_tokens = nl;
  return p;
}

PairLogps averaged_pair(double a_margin, double ref_a_w, double ref_a_l, index_t nw, index_t nl) {
  // (A_w - A_l) - (refA_w - refA_l) = a_margin
  const double a_l = -1 - std::max(a_margin, 0.0);
  const double a_w = a_l + (ref_a_w - ref_a_l) + a_margin;
  PairLogps p;
  p.policy_chosen = a_w * static_cast<double>(nw), p.policy_rejected = a_l * static_cast<double>(nl);
  p.reference_chosen = ref_a_w * static_cast<double>(nw), p.reference_rejected = ref_a_l * static_cast<double>(nl);
  p.chosen_tokens = nw, p.rejected_tokens = nl;
  return p;
}

bool near_kink(double m, double kink) { return std::fabs(m - kink) < 1e-3; }

}  // namespace

TEST_CASE("Dpo gradient matches central differences", "[loss][gradient]") {
  Gradcheck check;
  for (const Dpo loss : {Dpo{}, Dpo{0.5, 0.2}, Dpo{2.0, 0.45}, Dpo{0.01, 0.0}, Dpo{0.3, 0.0, 1.0}, Dpo{0.1, 0.2, 0.5}})
    for (double m : margins)
      for (auto [nw, nl] : token_counts) check(loss, reference_pair(m / loss.beta, nw, nl));
  CHECK(check.compared == 6 * 17 * 3 * 2);
}

TEST_CASE("Ipo gradient matches central differences", "[loss][gradient]") {
  Gradcheck check;
  for (const Ipo loss : {Ipo{}, Ipo{1.0}, Ipo{0.01}})
    for (double m : margins)
      for (auto [nw, nl] : token_counts) {
        check(loss, averaged_pair(m, -3.0, -2.5, nw, nl));
        check(loss, averaged_pair(m + 1 / (2 * loss.beta), -0.5, -4.0, nw, nl));  // around the target
      }
  CHECK(check.compared == 3 * 17 * 3 * 2 * 2);
}

TEST_CASE("Hinge gradient matches central differences away from the kink", "[loss][gradient]") {
  Gradcheck check;
  for (const Hinge loss : {Hinge{}, Hinge{2.0}, Hinge{0.05}})
    for (double m : margins) {  // m = βh; the kink is at βh = 1
      if (near_kink(m, 1.0)) continue;
      for (auto [nw, nl] : token_counts) check(loss, reference_pair(m / loss.beta, nw, nl));
    }
  CHECK(check.compared == 3 * 17 * 3 * 2);
}

TEST_CASE("Slic gradient matches central differences away from the kink", "[loss][gradient]") {
  Gradcheck check;
  for (const Slic loss : {Slic{}, Slic{0.5, 1.0}, Slic{5.0, 0.0}})
    for (double m : margins) {  // m = (S_w - S_l) - δ; the kink is at m = 0
      if (near_kink(m, 0.0)) continue;
      for (auto [nw, nl] : token_counts) {
        PairLogps p;
        p.policy_rejected = -10 - std::max(m + loss.delta, 0.0);
        p.policy_chosen = p.policy_rejected + loss.delta + m;
        p.chosen_tokens = nw, p.rejected_tokens = nl;
        check(loss, p);
      }
    }
  CHECK(check.compared == 3 * 14 * 3 * 2);
}

TEST_CASE("SimPo gradient matches central differences", "[loss][gradient]") {
  Gradcheck check;
  for (const SimPo loss : {SimPo{}, SimPo{2.0, 1.0}, SimPo{10.0, 0.0}, SimPo{2.5, 1.375}})
    for (double m : margins)  // m = z = β(A_w - A_l) - γ
      for (auto [nw, nl] : token_counts) check(loss, averaged_pair((m + loss.gamma) / loss.beta, 0, 0, nw, nl));
  CHECK(check.compared == 4 * 17 * 3 * 2);
}

TEST_CASE("Orpo gradient matches central differences, also for log-probs near 0", "[loss][gradient]") {
  // Averaged log-probs on both sides of -ln 2 (where log1mexp switches formulas), down to -1e-8.
  const std::vector<double> averages{-1e-8, -1e-4, -0.05, -0.3, -0.6931, -0.6932, -2, -30, -1e3};
  Gradcheck check;
  for (const Orpo loss : {Orpo{}, Orpo{1.0}, Orpo{0.0}})
    for (double a_w : averages)
      for (double a_l : averages)
        for (auto [nw, nl] : token_counts) {
          PairLogps p;
          p.policy_chosen = a_w * static_cast<double>(nw), p.policy_rejected = a_l * static_cast<double>(nl);
          p.chosen_tokens = nw, p.rejected_tokens = nl;
          check(loss, p);
        }
  CHECK(check.compared == 3 * 9 * 9 * 3 * 2);
}

TEST_CASE("Sft gradient matches central differences", "[loss][gradient]") {
  Gradcheck check;
  for (double s_w : {-1e4, -300.0, -3.0, -1e-3, -1e-8})
    for (auto [nw, nl] : token_counts) {
      PairLogps p;
      p.policy_chosen = s_w, p.policy_rejected = -7;
      p.chosen_tokens = nw, p.rejected_tokens = nl;
      check(Sft{}, p);
    }
  CHECK(check.compared == 5 * 3 * 2);
}

TEST_CASE("every loss stays finite at |beta h| = 1e4 and beyond", "[loss][stability]") {
  for (double m : {-1e6, -1e4, 1e4, 1e6}) {
    for (auto [nw, nl] : token_counts) {
      INFO("margin " << m << ", tokens " << nw << "/" << nl);
      for (const Dpo loss : {Dpo{}, Dpo{0.5, 0.3}}) {
        const PairLoss r = loss(reference_pair(m / loss.beta, nw, nl));
        CHECK(all_finite(r));
        // Far on either side the loss is linear (slope β(1-ε) or βε) or flat, never NaN.
        CHECK(r.loss >= 0);
      }
      CHECK(all_finite(Ipo{}(averaged_pair(m, -3, -2.5, nw, nl))));
      CHECK(all_finite(Hinge{}(reference_pair(m / 0.1, nw, nl))));
      CHECK(all_finite(SimPo{}(averaged_pair((m + 0.5) / 0.1, 0, 0, nw, nl))));
      CHECK(all_finite(SimPo{2.0, 1.0}(averaged_pair((m + 1.0) / 2.0, 0, 0, nw, nl))));
      PairLogps p;
      p.policy_chosen = -std::fabs(m) * static_cast<double>(nw), p.policy_rejected = -1e-8 * static_cast<double>(nl);
      p.chosen_tokens = nw, p.rejected_tokens = nl;
      CHECK(all_finite(Slic{}(p)));
      CHECK(all_finite(Orpo{}(p)));
      std::swap(p.policy_chosen, p.policy_rejected);
      std::swap(p.chosen_tokens, p.rejected_tokens);
      CHECK(all_finite(Orpo{}(p)));
      CHECK(all_finite(Sft{}(p)));
    }
  }
  // The far tails are exact: -log σ(z) -> -z for z -> -inf, and its slope is the full β.
  const PairLoss far = Dpo{}(reference_pair(-1e4 / 0.1, 1, 1));
  CHECK(far.loss == Approx(1e4).epsilon(1e-15));
  CHECK(far.d_policy_chosen == Approx(-0.1).epsilon(1e-15));
  const PairLoss won = Dpo{}(reference_pair(1e4 / 0.1, 1, 1));
  CHECK(won.loss == 0.0);  // e^-1e4 underflows: exactly 0, not NaN
  CHECK(won.d_policy_chosen == 0.0);
}
