// SPDX-License-Identifier: MIT
// Loss values against golden values from an independent PyTorch evaluation
// (tests/reference/losses_reference.py -> fixtures/losses_golden.json, TRL's formulas in float64
// with autograd gradients), plus invariants, the stable helpers, validate(), the is_pair_loss_v
// trait and the docs/losses.md custom-loss example.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "prefopt/loss/losses.hpp"

using namespace prefopt;
using namespace prefopt::loss;
using nlohmann::json;

namespace {

json load_golden() {
  const std::string path = std::string(PREFOPT_FIXTURES_DIR) + "/losses_golden.json";
  std::ifstream in(path);
  if (!in) FAIL("cannot open " << path);
  return json::parse(in);
}

PairLogps pair_from(const json& j) {
  PairLogps p;
  p.policy_chosen = j.at("policy_chosen").get<double>();
  p.policy_rejected = j.at("policy_rejected").get<double>();
  p.reference_chosen = j.at("reference_chosen").get<double>();
  p.reference_rejected = j.at("reference_rejected").get<double>();
  p.chosen_tokens = j.at("chosen_tokens").get<index_t>();
  p.rejected_tokens = j.at("rejected_tokens").get<index_t>();
  return p;
}

bool close(double a, double b, double rel) {
  return a == b || std::fabs(a - b) <= rel * std::max(std::fabs(a), std::fabs(b));
}

long golden_compared = 0;

template <class L>
void check_golden(const L& loss, const json& c) {
  loss.validate();
  const PairLoss got = loss(pair_from(c.at("input")));
  const json& want = c.at("expected");
  const std::pair<const char*, double> fields[] = {
      {"loss", got.loss},
      {"d_policy_chosen", got.d_policy_chosen},
      {"d_policy_rejected", got.d_policy_rejected},
      {"reward_chosen", got.reward_chosen},
      {"reward_rejected", got.reward_rejected},
      {"logp_chosen", got.logp_chosen},
      {"logp_rejected", got.logp_rejected},
      {"nll", got.nll}};
  for (const auto& [field, value] : fields) {
    const double expected = want.at(field).template get<double>();
    INFO(c.at("loss").get<std::string>() << " " << c.at("params").dump() << " " << c.at("input").dump() << ": "
                                         << field << " = " << value << ", torch " << expected);
    CHECK(close(value, expected, 1e-12));
    ++golden_compared;
  }
}

double param(const json& c, const char* name) { return c.at("params").at(name).get<double>(); }

}  // namespace

TEST_CASE("losses match the PyTorch golden values to 1e-12", "[loss][golden]") {
  const json golden = load_golden();
  std::set<std::string> seen;
  for (const json& c : golden.at("cases")) {
    const std::string name = c.at("loss").get<std::string>();
    seen.insert(name);
    if (name == "dpo") check_golden(Dpo{param(c, "beta"), param(c, "label_smoothing")}, c);
    else if (name == "ipo") check_golden(Ipo{param(c, "beta")}, c);
    else if (name == "hinge") check_golden(Hinge{param(c, "beta")}, c);
    else if (name == "slic") check_golden(Slic{param(c, "delta"), param(c, "lambda")}, c);
    else if (name == "simpo") check_golden(SimPo{param(c, "beta"), param(c, "gamma")}, c);
    else if (name == "orpo") check_golden(Orpo{param(c, "lambda")}, c);
    else if (name == "sft") check_golden(Sft{}, c);
    else FAIL("unknown loss in the fixture: " << name);
  }
  // Every loss has golden values, and the fixture names are the loss names.
  CHECK(seen == std::set<std::string>(loss_type_names().begin(), loss_type_names().end()));
  CHECK(golden_compared == 8 * static_cast<long>(golden.at("cases").size()));
  CHECK(golden.at("cases").size() >= 7 * 10);
}

TEST_CASE("DPO at h = 0 gives ln 2 and gradients -beta/2, +beta/2", "[loss][dpo]") {
  for (double beta : {0.1, 0.3, 2.0}) {
    PairLogps p{-40, -30, -45, -35, 20, 15};  // (S_w - S_l) - (ref_w - ref_l) = -10 + 10 = 0
    const PairLoss r = Dpo{beta}(p);
    CHECK(r.loss == std::log(2.0));
    CHECK(r.d_policy_chosen == -beta / 2);
    CHECK(r.d_policy_rejected == beta / 2);
    CHECK(r.reward_chosen == Approx(beta * 5));
    CHECK(r.reward_rejected == Approx(beta * 5));
    // With label smoothing the loss at h = 0 is still ln 2, the gradient β(1/2 - (1-ε)).
    const PairLoss s = Dpo{beta, 0.2}(p);
    CHECK(s.loss == Approx(std::log(2.0)).epsilon(1e-15));
    CHECK(s.d_policy_chosen == Approx(beta * (0.5 - 0.8)).epsilon(1e-15));
  }
}

TEST_CASE("Dpo with label_smoothing = 0 is plain DPO, -log sigma(beta h)", "[loss][dpo]") {
  for (double h : {-1e3, -20.0, -1.5, -1e-9, 0.0, 0.7, 13.0, 400.0}) {
    PairLogps p{-50 + h, -50, -20, -20, 10, 12};
    const double beta = 0.1, z = beta * ((p.policy_chosen - p.policy_rejected) - 0.0);
    const PairLoss r = Dpo{beta, 0.0}(p);
    INFO("h = " << h);
    CHECK(r.loss == -log_sigmoid(z));
    CHECK(r.d_policy_chosen == -beta * sigmoid(-z));
    CHECK(r.d_policy_rejected == beta * sigmoid(-z));
    // The cDPO interpolation: ℓ_ε = (1-ε) ℓ_0(h) + ε ℓ_0(-h).
    PairLogps flipped = p;
    std::swap(flipped.policy_chosen, flipped.policy_rejected);
    const double eps = 0.3;
    CHECK(Dpo{beta, eps}(p).loss == Approx((1 - eps) * r.loss + eps * Dpo{beta}(flipped).loss).epsilon(1e-14));
  }
}

TEST_CASE("Dpo with rpo_alpha adds alpha times the chosen completion's per-token NLL (RPO)", "[loss][dpo]") {
  const PairLogps p{-30, -41, -33, -37, 12, 9};
  const PairLoss plain = Dpo{0.3}(p), rpo = Dpo{0.3, 0.0, 2.0}(p);
  CHECK(rpo.nll == Approx(30.0 / 12).epsilon(1e-15));
  CHECK(rpo.loss == Approx(plain.loss + 2.0 * 30.0 / 12).epsilon(1e-15));
  CHECK(rpo.d_policy_chosen == Approx(plain.d_policy_chosen - 2.0 / 12).epsilon(1e-15));
  CHECK(rpo.d_policy_rejected == plain.d_policy_rejected);
  CHECK(rpo.reward_chosen == plain.reward_chosen);
  CHECK(plain.nll == 0);
  CHECK_THROWS_WITH((Dpo{0.1, 0.0, -1.0}.validate()), Catch::Contains("rpo_alpha"));
}

TEST_CASE("Ipo: zero loss and gradient at the per-token target 1/(2 beta)", "[loss][ipo]") {
  const Ipo ipo{0.25};  // target h̄ = 2 nats per token
  PairLogps p{-10.0 * 5, -12.0 * 4, -11.0 * 5, -11.0 * 4, 5, 4};  // h̄ = (-10 + 12) - 0 = 2
  const PairLoss r = ipo(p);
  CHECK(r.loss == 0.0);
  CHECK(r.d_policy_chosen == 0.0);
  CHECK(r.d_policy_rejected == 0.0);
  CHECK(r.logp_chosen == -10.0);
  CHECK(r.reward_chosen == Approx(0.25 * 1.0));
  // One nat per token short of the target: ℓ = 1, dℓ/dS_w = 2(h̄ - c)/|y_w| = -2/5.
  p.policy_chosen -= 5;
  CHECK(ipo(p).loss == Approx(1.0).epsilon(1e-15));
  CHECK(ipo(p).d_policy_chosen == Approx(-2.0 / 5).epsilon(1e-15));
  CHECK(ipo(p).d_policy_rejected == Approx(2.0 / 4).epsilon(1e-15));
}

TEST_CASE("length-averaged losses: gradients are with respect to the summed log-probs", "[loss][mean]") {
  // Scaling S and |y| by k leaves A, hence ℓ, unchanged and divides dℓ/dS by k.
  const PairLogps p{-12.5, -14.0, -13.0, -13.5, 7, 9};
  PairLogps q = p;
  q.policy_chosen *= 3, q.policy_rejected *= 3, q.reference_chosen *= 3, q.reference_rejected *= 3;
  q.chosen_tokens *= 3, q.rejected_tokens *= 3;
  auto same_up_to_scale = [&](auto loss) {
    INFO(decltype(loss)::name);
    const PairLoss a = loss(p), b = loss(q);
    CHECK(b.loss == Approx(a.loss).epsilon(1e-14));
    CHECK(b.d_policy_chosen == Approx(a.d_policy_chosen / 3).epsilon(1e-14));
    CHECK(b.d_policy_rejected == Approx(a.d_policy_rejected / 3).epsilon(1e-14));
    CHECK(b.logp_chosen == Approx(a.logp_chosen).epsilon(1e-15));
  };
  same_up_to_scale(Ipo{});
  same_up_to_scale(SimPo{});
  same_up_to_scale(Orpo{});
  static_assert(Ipo::reduction == LogpReduction::Mean && SimPo::reduction == LogpReduction::Mean &&
                Orpo::reduction == LogpReduction::Mean);
  static_assert(Dpo::reduction == LogpReduction::Sum && Hinge::reduction == LogpReduction::Sum &&
                Slic::reduction == LogpReduction::Sum && Sft::reduction == LogpReduction::Sum);
}

TEST_CASE("hinge losses: zero gradient past the margin, subgradient 0 at the kink", "[loss][hinge]") {
  // Hinge: 1 - βh = 0 exactly at β = 0.5, h = 2.
  const PairLoss kink = Hinge{0.5}(PairLogps{-10, -14, -12, -14, 6, 6});
  CHECK(kink.loss == 0.0);
  CHECK(kink.d_policy_chosen == 0.0);
  CHECK(kink.d_policy_rejected == 0.0);
  const PairLoss inside = Hinge{0.5}(PairLogps{-10, -13, -12, -14, 6, 6});  // h = 1: ℓ = 0.5
  CHECK(inside.loss == 0.5);
  CHECK(inside.d_policy_chosen == -0.5);
  CHECK(inside.d_policy_rejected == 0.5);
  // Slic: only the NLL term past the margin; the rank term joins inside it.
  const Slic slic{1.0, 0.1};
  const PairLoss past = slic(PairLogps{-5, -6.5, 0, 0, 4, 4});  // S_w - S_l = 1.5 > δ
  CHECK(past.loss == Approx(0.1 * 5.0 / 4).epsilon(1e-15));
  CHECK(past.d_policy_chosen == Approx(-0.1 / 4).epsilon(1e-15));
  CHECK(past.d_policy_rejected == 0.0);
  CHECK(past.nll == 5.0 / 4);
  const PairLoss at_kink = slic(PairLogps{-5, -6, 0, 0, 4, 4});
  CHECK(at_kink.d_policy_rejected == 0.0);
  const PairLoss within = slic(PairLogps{-5, -5.5, 0, 0, 4, 4});
  CHECK(within.loss == Approx(0.5 + 0.1 * 5.0 / 4).epsilon(1e-15));
  CHECK(within.d_policy_chosen == Approx(-1 - 0.1 / 4).epsilon(1e-15));
  CHECK(within.d_policy_rejected == 1.0);
  // Reference-free: the reference log-probs do not matter.
  CHECK(slic(PairLogps{-5, -5.5, -100, 7, 4, 4}).loss == within.loss);
}

TEST_CASE("SimPo, Orpo, Sft: formulas on hand-worked values", "[loss][simpo][orpo][sft]") {
  // SimPO with β(A_w - A_l) = γ: z = 0, ℓ = ln 2, dℓ/dS_w = -β/2/|y_w|.
  const SimPo simpo{2.0, 1.0};
  const PairLoss s = simpo(PairLogps{-1.0 * 4, -1.5 * 8, 0, 0, 4, 8});  // A_w - A_l = 0.5
  CHECK(s.loss == Approx(std::log(2.0)).epsilon(1e-15));
  CHECK(s.d_policy_chosen == Approx(-2.0 / 2 / 4).epsilon(1e-15));
  CHECK(s.d_policy_rejected == Approx(2.0 / 2 / 8).epsilon(1e-15));
  CHECK(s.reward_chosen == -2.0);
  CHECK(s.logp_rejected == -1.5);
  // ORPO with A_w = A_l: log odds ratio 0, ℓ = -A_w + λ ln 2.
  const PairLoss o = Orpo{0.1}(PairLogps{-2.0 * 3, -2.0 * 5, 0, 0, 3, 5});
  CHECK(o.loss == Approx(2.0 + 0.1 * std::log(2.0)).epsilon(1e-15));
  CHECK(o.nll == 2.0);
  CHECK(o.reward_chosen == Approx(-0.2).epsilon(1e-15));
  const double dodds = 1 / (1 - std::exp(-2.0));
  CHECK(o.d_policy_chosen == Approx((-1 - 0.1 * 0.5 * dodds) / 3).epsilon(1e-14));
  CHECK(o.d_policy_rejected == Approx(0.1 * 0.5 * dodds / 5).epsilon(1e-14));
  // ORPO near A = 0: finite, and the chosen log odds -log|A| keeps its digits.
  const PairLoss near0 = Orpo{0.1}(PairLogps{-1e-8, -1.0, 0, 0, 1, 1});
  CHECK(std::isfinite(near0.loss));
  CHECK(std::isfinite(near0.d_policy_chosen));
  const double expected_log_odds = (-1e-8 - (std::log(1e-8) - 5e-9)) - (-1.0 - std::log1p(-std::exp(-1.0)));
  CHECK(near0.loss == Approx(1e-8 - 0.1 * log_sigmoid(expected_log_odds)).epsilon(1e-14));
  // Sft: -S_w, weight -1 on every chosen token, nothing on the rejected completion.
  const PairLoss t = Sft{}(PairLogps{-12.5, -3, -1, -1, 5, 2});
  CHECK(t.loss == 12.5);
  CHECK(t.d_policy_chosen == -1.0);
  CHECK(t.d_policy_rejected == 0.0);
  CHECK(t.nll == 2.5);
  CHECK(t.reward_chosen == 0.0);
  CHECK(t.reward_rejected == 0.0);
  CHECK(t.logp_chosen == -12.5);
}

TEST_CASE("stable_math helpers are finite and accurate at the extremes", "[loss][stable_math]") {
  CHECK(softplus(0.0) == std::log(2.0));
  CHECK(softplus(1e4) == 1e4);
  CHECK(softplus(-1e4) == 0.0);
  CHECK(softplus(-30.0) == Approx(std::exp(-30.0) - std::exp(-60.0) / 2).epsilon(1e-15));
  CHECK(log_sigmoid(-1e4) == -1e4);
  CHECK(log_sigmoid(1e4) == 0.0);
  CHECK(log_sigmoid(40.0) == Approx(-std::exp(-40.0)).epsilon(1e-15));
  CHECK(log_sigmoid(-40.0) == Approx(-40.0 - std::exp(-40.0)).epsilon(1e-15));
  CHECK(sigmoid(0.0) == 0.5);
  CHECK(sigmoid(1e4) == 1.0);
  CHECK(sigmoid(-1e4) == 0.0);
  CHECK(sigmoid(-700.0) == Approx(std::exp(-700.0)).epsilon(1e-14));  // keeps relative precision
  CHECK(sigmoid(3.0) + sigmoid(-3.0) == Approx(1.0).epsilon(1e-15));
  // log1mexp: log(1 - e^a) = log(-a) - a/2 + a²/24 - ... near 0; -e^a - e^{2a}/2 far from 0.
  CHECK(log1mexp(-1e-8) == Approx(std::log(1e-8) - 5e-9).epsilon(1e-16));
  CHECK(log1mexp(-1e-300) == Approx(std::log(1e-300)).epsilon(1e-16));
  CHECK(log1mexp(-40.0) == Approx(-std::exp(-40.0)).epsilon(1e-15));
  CHECK(log1mexp(-1000.0) == 0.0);
  const double ln2 = std::log(2.0);
  CHECK(log1mexp(-ln2) == Approx(-ln2).epsilon(1e-15));  // 1 - 1/2
  CHECK(log1mexp(std::nextafter(-ln2, 0.0)) == Approx(log1mexp(std::nextafter(-ln2, -1.0))).epsilon(1e-14));
  CHECK(std::isinf(log1mexp(0.0)));
  for (double x : {-1e300, -1e4, -745.0, -1.0, 0.0, 1.0, 745.0, 1e4, 1e300}) {
    INFO("x = " << x);
    CHECK(std::isfinite(softplus(x)));
    CHECK(std::isfinite(log_sigmoid(x)));
    CHECK(std::isfinite(sigmoid(x)));
  }
}

TEST_CASE("validate() rejects bad hyperparameters and names the field", "[loss][validate]") {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  Dpo{}.validate();
  Ipo{}.validate();
  Hinge{}.validate();
  Slic{}.validate();
  SimPo{}.validate();
  Orpo{}.validate();
  Sft{}.validate();
  Dpo{0.1, 0.49}.validate();
  Slic{0.0, 0.0}.validate();
  SimPo{2.0, 0.0}.validate();
  Orpo{0.0}.validate();
  for (double bad : {0.0, -0.1, nan, inf}) {
    INFO("beta = " << bad);
    CHECK_THROWS_WITH(Dpo{bad}.validate(), Catch::Contains("Dpo: beta"));
    CHECK_THROWS_AS(Dpo{bad}.validate(), ArgumentError);
    CHECK_THROWS_WITH(Ipo{bad}.validate(), Catch::Contains("Ipo: beta"));
    CHECK_THROWS_WITH(Hinge{bad}.validate(), Catch::Contains("Hinge: beta"));
    CHECK_THROWS_WITH(SimPo{bad}.validate(), Catch::Contains("SimPo: beta"));
  }
  for (double bad : {-0.1, 0.5, 0.7, nan}) {
    INFO("label_smoothing = " << bad);
    CHECK_THROWS_WITH((Dpo{0.1, bad}.validate()), Catch::Contains("Dpo: label_smoothing"));
  }
  for (double bad : {-1e-3, nan, inf}) {
    INFO("value = " << bad);
    CHECK_THROWS_WITH((Slic{bad, 0.1}.validate()), Catch::Contains("Slic: delta"));
    CHECK_THROWS_WITH((Slic{1.0, bad}.validate()), Catch::Contains("Slic: lambda"));
    CHECK_THROWS_WITH((SimPo{0.1, bad}.validate()), Catch::Contains("SimPo: gamma"));
    CHECK_THROWS_WITH(Orpo{bad}.validate(), Catch::Contains("Orpo: lambda"));
    CHECK_THROWS_AS(Orpo{bad}.validate(), ArgumentError);
  }
}

TEST_CASE("defaults, flags and names", "[loss][defaults]") {
  CHECK(Dpo{}.beta == 0.1);
  CHECK(Dpo{}.label_smoothing == 0.0);
  CHECK(Ipo{}.beta == 0.1);
  CHECK(Hinge{}.beta == 0.1);
  CHECK(Slic{}.delta == 1.0);
  CHECK(Slic{}.lambda == 0.1);
  CHECK(SimPo{}.beta == 0.1);
  CHECK(SimPo{}.gamma == 0.5);
  CHECK(Orpo{}.lambda == 0.1);
  static_assert(Dpo::needs_reference && Ipo::needs_reference && Hinge::needs_reference);
  static_assert(!Slic::needs_reference && !SimPo::needs_reference && !Orpo::needs_reference && !Sft::needs_reference);
  static_assert(Dpo::uses_rejected && Ipo::uses_rejected && Hinge::uses_rejected && Slic::uses_rejected &&
                SimPo::uses_rejected && Orpo::uses_rejected && !Sft::uses_rejected);
  static_assert(Sft::normalization == Normalization::PerToken);
  static_assert(Dpo::normalization == Normalization::PerPair && Orpo::normalization == Normalization::PerPair);
  CHECK(loss_type_names() == std::vector<std::string>{"dpo", "ipo", "hinge", "slic", "simpo", "orpo", "sft"});
  // Reference-based losses ignore nothing; reference-free ones ignore the reference.
  const PairLogps p{-12.5, -14.0, -13.0, -13.5, 7, 9};
  PairLogps q = p;
  q.reference_chosen = -1, q.reference_rejected = -99;
  CHECK(SimPo{}(q).loss == SimPo{}(p).loss);
  CHECK(Orpo{}(q).loss == Orpo{}(p).loss);
  CHECK(Dpo{}(q).loss != Dpo{}(p).loss);
}

// ---- the trait --------------------------------------------------------------------------------

namespace {
// The custom loss of docs/losses.md ("Writing a loss policy"), verbatim.
struct SquaredMargin {  // ℓ = (β h - 1)², a reference-based squared hinge without the kink
  double beta = 0.1;

  static constexpr const char* name = "squared_margin";
  static constexpr bool needs_reference = true;
  static constexpr bool uses_rejected = true;
  static constexpr prefopt::loss::LogpReduction reduction = prefopt::loss::LogpReduction::Sum;
  static constexpr prefopt::loss::Normalization normalization = prefopt::loss::Normalization::PerPair;

  void validate() const { PREFOPT_CHECK(beta > 0, "SquaredMargin: beta must be > 0, got ", beta); }

  PREFOPT_HOST_DEVICE prefopt::loss::PairLoss operator()(const prefopt::loss::PairLogps& p) const noexcept {
    const double h = (p.policy_chosen - p.policy_rejected) - (p.reference_chosen - p.reference_rejected);
    const double d = beta * h - 1;
    prefopt::loss::PairLoss out;
    out.loss = d * d;
    out.d_policy_chosen = 2 * d * beta;  // dℓ/dS_w = 2(βh - 1)·β
    out.d_policy_rejected = -2 * d * beta;
    out.reward_chosen = beta * (p.policy_chosen - p.reference_chosen);
    out.reward_rejected = beta * (p.policy_rejected - p.reference_rejected);
    out.logp_chosen = p.policy_chosen;
    out.logp_rejected = p.policy_rejected;
    return out;
  }
};

struct NoValidate {
  static constexpr const char* name = "x";
  static constexpr bool needs_reference = false, uses_rejected = true;
  static constexpr LogpReduction reduction = LogpReduction::Sum;
  static constexpr Normalization normalization = Normalization::PerPair;
  PairLoss operator()(const PairLogps&) const { return {}; }
};
struct NonStaticFlag {
  static constexpr const char* name = "x";
  bool needs_reference = false;
  static constexpr bool uses_rejected = true;
  static constexpr LogpReduction reduction = LogpReduction::Sum;
  static constexpr Normalization normalization = Normalization::PerPair;
  PairLoss operator()(const PairLogps&) const { return {}; }
  void validate() const {}
};
struct ReturnsDouble {
  static constexpr const char* name = "x";
  static constexpr bool needs_reference = false, uses_rejected = true;
  static constexpr LogpReduction reduction = LogpReduction::Sum;
  static constexpr Normalization normalization = Normalization::PerPair;
  double operator()(const PairLogps&) const { return 0; }
  void validate() const {}
};
struct BoolReduction {
  static constexpr const char* name = "x";
  static constexpr bool needs_reference = false, uses_rejected = true;
  static constexpr bool reduction = true;
  static constexpr Normalization normalization = Normalization::PerPair;
  PairLoss operator()(const PairLogps&) const { return {}; }
  void validate() const {}
};
struct NonConstCall {
  static constexpr const char* name = "x";
  static constexpr bool needs_reference = false, uses_rejected = true;
  static constexpr LogpReduction reduction = LogpReduction::Sum;
  static constexpr Normalization normalization = Normalization::PerPair;
  PairLoss operator()(const PairLogps&) { return {}; }
  void validate() const {}
};
struct NotTriviallyCopyable {  // a std::string member: it could not be copied into a GPU kernel
  static constexpr const char* name = "x";
  static constexpr bool needs_reference = false, uses_rejected = true;
  static constexpr LogpReduction reduction = LogpReduction::Sum;
  static constexpr Normalization normalization = Normalization::PerPair;
  std::string label;
  PairLoss operator()(const PairLogps&) const { return {}; }
  void validate() const {}
};
}  // namespace

static_assert(is_pair_loss_v<Dpo> && is_pair_loss_v<Ipo> && is_pair_loss_v<Hinge> && is_pair_loss_v<Slic> &&
              is_pair_loss_v<SimPo> && is_pair_loss_v<Orpo> && is_pair_loss_v<Sft>);
static_assert(is_pair_loss_v<SquaredMargin>);
static_assert(!is_pair_loss_v<NoValidate>);
static_assert(!is_pair_loss_v<NonStaticFlag>);
static_assert(!is_pair_loss_v<ReturnsDouble>);
static_assert(!is_pair_loss_v<BoolReduction>);
static_assert(!is_pair_loss_v<NonConstCall>);
static_assert(!is_pair_loss_v<NotTriviallyCopyable>);
static_assert(!is_pair_loss_v<int>);

TEST_CASE("the docs/losses.md custom loss satisfies the interface and its gradient is right", "[loss][trait]") {
  const SquaredMargin loss{0.5};
  loss.validate();
  CHECK_THROWS_WITH(SquaredMargin{0.0}.validate(), Catch::Contains("beta"));
  const PairLogps p{-10, -14, -12, -13, 6, 6};  // h = 3, βh - 1 = 0.5
  const PairLoss r = loss(p);
  CHECK(r.loss == 0.25);
  CHECK(r.d_policy_chosen == 0.5);
  CHECK(r.d_policy_rejected == -0.5);
}
