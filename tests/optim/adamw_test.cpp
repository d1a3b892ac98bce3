// SPDX-License-Identifier: MIT
// AdamW, gradient clipping and the optimizer kernels against PyTorch 1.13's own torch.optim.AdamW
// (foreach=False), clip_grad_norm_ and LambdaLR (tests/reference/optim_reference.py): five steps on
// three float32 tensors with Hugging Face's decay / no-decay groups. Also save/restore, the
// thread-count independence of sum_of_squares, Hugging Face's parameter groups on GPT-2, and
// argument checking.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "prefopt/core/config.hpp"
#include "prefopt/device/cpu.hpp"
#include "prefopt/model/gpt2_config.hpp"
#include "prefopt/model/parameter_table.hpp"
#include "prefopt/optim/adamw.hpp"
#include "prefopt/optim/grad_clip.hpp"
#include "prefopt/optim/lr_schedule.hpp"

using namespace prefopt;
using json = nlohmann::json;

namespace {

json load_golden() {
  std::ifstream in(std::string(PREFOPT_FIXTURES_DIR) + "/adamw_golden.json");
  REQUIRE(in.good());  // a missing fixture is a failure, never a skip
  return json::parse(in);
}

template <class Scalar>
std::vector<Scalar> as_vector(const json& j) {
  std::vector<Scalar> out;
  for (const auto& x : j) out.push_back(static_cast<Scalar>(x.get<double>()));
  return out;
}

/// The fixture's parameter groups: one per tensor, in block order.
std::vector<ParamGroup> fixture_groups(const json& adamw) {
  std::vector<ParamGroup> groups;
  index_t offset = 0;
  for (const auto& t : adamw["tensors"]) {
    index_t size = 1;
    for (const auto& d : t["shape"]) size *= d.get<index_t>();
    groups.push_back(ParamGroup{offset, size, t["decay"].get<bool>()});
    offset += size;
  }
  return groups;
}

AdamWConfig fixture_config(const json& adamw) {
  AdamWConfig c;
  c.beta1 = adamw["beta1"].get<double>();
  c.beta2 = adamw["beta2"].get<double>();
  c.eps = adamw["eps"].get<double>();
  c.weight_decay = adamw["weight_decay"].get<double>();
  return c;
}

/// Normwise relative error max_i |got_i - want_i| / max_i |want_i| (elementwise relative error
/// is meaningless for moments that cancel through zero), and how many elements differ at all.
struct Diff {
  double max_rel = 0.0;
  std::size_t differing = 0;
};
template <class Scalar>
Diff compare(const Scalar* got, const std::vector<Scalar>& want) {
  Diff d;
  double max_err = 0.0, max_want = 0.0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double g = static_cast<double>(got[i]), w = static_cast<double>(want[i]);
    if (g != w) ++d.differing;
    max_err = std::max(max_err, std::abs(g - w));
    max_want = std::max(max_want, std::abs(w));
  }
  d.max_rel = max_want > 0.0 ? max_err / max_want : max_err;
  return d;
}

std::vector<float> random_vector(index_t n, unsigned seed, float scale) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (float& x : v) x = dist(gen);
  return v;
}

}  // namespace

TEST_CASE("AdamW fed PyTorch's clipped gradients reproduces torch.optim.AdamW bit for bit", "[optim][adamw]") {
  const json golden = load_golden();
  const json& a = golden["adamw"];
  CpuDevice dev;
  std::vector<float> params = as_vector<float>(a["initial_params"]);
  const index_t n = static_cast<index_t>(params.size());
  AdamW<CpuDevice, float> opt(n, fixture_groups(a), fixture_config(a), dev);
  for (const auto& s : a["steps"]) {
    const std::vector<float> grads = as_vector<float>(s["clipped_grads"]);
    opt.step(params.data(), grads.data(), s["lr"].get<double>());
    INFO("step " << opt.step_count());
    CHECK(compare(params.data(), as_vector<float>(s["params"])).differing == 0);
    CHECK(compare(opt.exp_avg(), as_vector<float>(s["exp_avg"])).differing == 0);
    CHECK(compare(opt.exp_avg_sq(), as_vector<float>(s["exp_avg_sq"])).differing == 0);
  }
  CHECK(opt.step_count() == 5);
}

// PyTorch sums each tensor's squares in float, prefopt the whole block in double: the norms agree to
// ~1e-7 and the float clip coefficient may differ by an ulp, which then propagates.
TEST_CASE("clip_grad_norm + AdamW replay PyTorch's training steps", "[optim][adamw][clip]") {
  const json golden = load_golden();
  const json& a = golden["adamw"];
  CpuDevice dev;
  std::vector<float> params = as_vector<float>(a["initial_params"]);
  const index_t n = static_cast<index_t>(params.size());
  AdamW<CpuDevice, float> opt(n, fixture_groups(a), fixture_config(a), dev);
  const LrSchedule schedule{parse_lr_scheduler_type(a["schedule"].get<std::string>()),
                            a["base_lr"].get<double>(), a["warmup_steps"].get<std::int64_t>(),
                            a["total_steps"].get<std::int64_t>()};
  const double max_norm = a["max_norm"].get<double>();
  Diff worst_params, worst_moments, worst_grads;
  double worst_norm = 0.0;
  std::int64_t k = 0;
  for (const auto& s : a["steps"]) {
    INFO("step " << k);
    std::vector<float> grads = as_vector<float>(s["grads"]);
    const double norm = clip_grad_norm(dev, grads.data(), n, max_norm);
    const double want_norm = s["norm"].get<double>();
    worst_norm = std::max(worst_norm, std::abs(norm - want_norm) / want_norm);
    CHECK(norm == Approx(want_norm).epsilon(1e-6));
    const Diff dg = compare(grads.data(), as_vector<float>(s["clipped_grads"]));
    CHECK(dg.max_rel <= 1e-6);
    const double lr = schedule.lr(k);
    CHECK(lr == s["lr"].get<double>());  // same formula, same double arithmetic
    opt.step(params.data(), grads.data(), lr);
    const Diff dp = compare(params.data(), as_vector<float>(s["params"]));
    const Diff dm = compare(opt.exp_avg(), as_vector<float>(s["exp_avg"]));
    const Diff dv = compare(opt.exp_avg_sq(), as_vector<float>(s["exp_avg_sq"]));
    CHECK(dp.max_rel <= 1e-6);
    CHECK(dm.max_rel <= 1e-6);
    CHECK(dv.max_rel <= 1e-6);
    worst_grads.max_rel = std::max(worst_grads.max_rel, dg.max_rel);
    worst_grads.differing += dg.differing;
    worst_params.max_rel = std::max(worst_params.max_rel, dp.max_rel);
    worst_params.differing += dp.differing;
    worst_moments.max_rel = std::max({worst_moments.max_rel, dm.max_rel, dv.max_rel});
    worst_moments.differing += dm.differing + dv.differing;
    ++k;
  }
  // The measured closeness, for docs/optimizer.md.
  WARN("vs PyTorch over 5 steps: norm max rel " << worst_norm << "; clipped grads max rel "
       << worst_grads.max_rel << " (" << worst_grads.differing << " differ); params max rel "
       << worst_params.max_rel << " (" << worst_params.differing << " differ); moments max rel "
       << worst_moments.max_rel << " (" << worst_moments.differing << " differ)");
}

TEST_CASE("AdamW in double follows the float run", "[optim][adamw]") {
  const json golden = load_golden();
  const json& a = golden["adamw"];
  CpuDevice dev;
  std::vector<double> params = as_vector<double>(a["initial_params"]);
  const index_t n = static_cast<index_t>(params.size());
  AdamW<CpuDevice, double> opt(n, fixture_groups(a), fixture_config(a), dev);
  for (const auto& s : a["steps"]) {
    std::vector<double> grads = as_vector<double>(s["grads"]);
    clip_grad_norm(dev, grads.data(), n, a["max_norm"].get<double>());
    opt.step(params.data(), grads.data(), s["lr"].get<double>());
  }
  CHECK(compare(params.data(), as_vector<double>(a["steps"].back()["params"])).max_rel <= 1e-6);
}

TEST_CASE("AdamW save/restore continues exactly like an uninterrupted optimizer", "[optim][adamw][resume]") {
  CpuDevice dev;
  const index_t n = 3 * 4096 + 77;  // several parallel chunks and a ragged tail
  const std::vector<ParamGroup> groups{{0, 5000, true}, {5000, 100, false}, {5100, n - 5100, true}};
  AdamWConfig config;
  config.weight_decay = 0.1;
  const std::vector<float> init = random_vector(n, 1, 0.5f);
  const auto grads_at = [&](int step) { return random_vector(n, 100 + static_cast<unsigned>(step), 0.01f); };
  const auto lr_at = [](int step) { return 1e-3 * (1.0 + step); };

  std::vector<float> straight = init;
  AdamW<CpuDevice, float> uninterrupted(n, groups, config, dev);
  for (int s = 0; s < 6; ++s) uninterrupted.step(straight.data(), grads_at(s).data(), lr_at(s));

  std::vector<float> resumed = init;
  std::vector<float> m(static_cast<std::size_t>(n)), v(static_cast<std::size_t>(n));
  std::int64_t saved_step = 0;
  {
    AdamW<CpuDevice, float> first(n, groups, config, dev);
    for (int s = 0; s < 3; ++s) first.step(resumed.data(), grads_at(s).data(), lr_at(s));
    first.save(m.data(), v.data());
    saved_step = first.step_count();
  }
  AdamW<CpuDevice, float> second(n, groups, config, dev);
  second.restore(saved_step, m.data(), v.data());
  CHECK(second.step_count() == 3);
  for (int s = 3; s < 6; ++s) second.step(resumed.data(), grads_at(s).data(), lr_at(s));

  CHECK(std::memcmp(straight.data(), resumed.data(), sizeof(float) * straight.size()) == 0);
  CHECK(std::memcmp(uninterrupted.exp_avg(), second.exp_avg(), sizeof(float) * straight.size()) == 0);
  CHECK(std::memcmp(uninterrupted.exp_avg_sq(), second.exp_avg_sq(), sizeof(float) * straight.size()) == 0);
  CHECK(second.step_count() == uninterrupted.step_count());
}

TEST_CASE("sum_of_squares is identical for any OpenMP thread count", "[optim][kernels]") {
  CpuDevice dev;
  const index_t n = 5 * sum_of_squares_chunk + 1234;  // not a multiple of the chunk
  const std::vector<float> x = random_vector(n, 7, 1.0f);
  std::vector<double> xd(x.begin(), x.end());
#if PREFOPT_HAS_OPENMP
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const double one = cpu::sum_of_squares(dev, x.data(), n);
  const double one_d = cpu::sum_of_squares(dev, xd.data(), n);
  omp_set_num_threads(2);
  const double two = cpu::sum_of_squares(dev, x.data(), n);
  const double two_d = cpu::sum_of_squares(dev, xd.data(), n);
  omp_set_num_threads(saved);
  CHECK(std::memcmp(&one, &two, sizeof(double)) == 0);
  CHECK(std::memcmp(&one_d, &two_d, sizeof(double)) == 0);
#else
  const double one = cpu::sum_of_squares(dev, x.data(), n);
#endif
  long double exact = 0;
  for (float v : x) exact += static_cast<long double>(v) * v;
  CHECK(one == Approx(static_cast<double>(exact)).epsilon(1e-12));
  CHECK(cpu::sum_of_squares(dev, x.data(), 0) == 0.0);
}

TEST_CASE("clip_grad_norm clips only above max_norm and max_norm <= 0 disables it", "[optim][clip]") {
  CpuDevice dev;
  std::vector<float> g{3.0f, 4.0f};  // norm 5
  const std::vector<float> orig = g;
  CHECK(clip_grad_norm(dev, g.data(), 2, 0.0) == 5.0);
  CHECK(g == orig);
  CHECK(clip_grad_norm(dev, g.data(), 2, 10.0) == 5.0);
  CHECK(g == orig);
  CHECK(clip_grad_norm(dev, g.data(), 2, 1.0) == 5.0);
  // clip_coef = float(1 / float(5 + 1e-6)): PyTorch's rounding.
  const float coef = (1.0f / (5.0f + 1e-6f)) * 1.0f;
  CHECK(g[0] == 3.0f * coef);
  CHECK(g[1] == 4.0f * coef);
  CHECK(std::sqrt(g[0] * g[0] + g[1] * g[1]) == Approx(1.0).epsilon(1e-6));
  CHECK(clip_grad_norm(dev, g.data(), 0, 1.0) == 0.0);
}

TEST_CASE("hf_param_groups: no weight decay on biases and LayerNorm weights", "[optim][groups]") {
  Gpt2Config c;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_embd = 8;
  c.n_positions = 16;
  c.vocab_size = 11;
  const ParameterTable table(c);
  const std::vector<ParamGroup> groups = AdamW<CpuDevice, float>::hf_param_groups(table);

  // The groups tile the block in order and adjacent groups alternate.
  index_t next = 0;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    CHECK(groups[i].offset == next);
    CHECK(groups[i].size > 0);
    next += groups[i].size;
    if (i > 0) CHECK(groups[i].decay != groups[i - 1].decay);
  }
  CHECK(next == table.total_size());
  // wte and wpe merge into one decay group.
  CHECK(groups.front() == ParamGroup{0, (c.vocab_size + c.n_positions) * c.n_embd, true});

  const auto group_of = [&](index_t offset) -> const ParamGroup& {
    for (const auto& g : groups)
      if (offset >= g.offset && offset < g.offset + g.size) return g;
    FAIL("offset " << offset << " in no group");
    return groups.front();
  };
  int no_decay = 0;
  for (const auto& e : table.entries()) {
    const bool is_bias = e.name.size() > 5 && e.name.compare(e.name.size() - 5, 5, ".bias") == 0;
    const bool is_ln_weight = e.name.find("ln_") != std::string::npos && !is_bias;
    INFO(e.name);
    CHECK(group_of(e.offset).decay == !(is_bias || is_ln_weight));
    CHECK(group_of(e.offset + e.size - 1).decay == group_of(e.offset).decay);
    CHECK(hf_decays(e.name) == !(is_bias || is_ln_weight));
    no_decay += !hf_decays(e.name);
  }
  CHECK(no_decay == 2 * (4 + 4) + 2);  // per layer ln_1 w/b, ln_2 w/b and 4 linear biases; ln_f w/b
  CHECK(hf_decays("transformer.h.0.mlp.c_fc.weight"));
  CHECK_FALSE(hf_decays("transformer.ln_f.weight"));
  CHECK(hf_decays("wte.weight"));
}

TEST_CASE("AdamW and AdamWConfig reject bad arguments", "[optim][adamw][errors]") {
  using Catch::Matchers::Contains;
  const auto with = [](auto set) {
    AdamWConfig c;
    set(c);
    return c;
  };
  CHECK_NOTHROW(AdamWConfig{}.validate());
  CHECK_THROWS_WITH(with([](AdamWConfig& c) { c.beta1 = 1.0; }).validate(), Contains("beta1"));
  CHECK_THROWS_WITH(with([](AdamWConfig& c) { c.beta1 = -0.1; }).validate(), Contains("beta1"));
  CHECK_THROWS_WITH(with([](AdamWConfig& c) { c.beta2 = 1.5; }).validate(), Contains("beta2"));
  CHECK_THROWS_WITH(with([](AdamWConfig& c) { c.beta2 = std::nan(""); }).validate(), Contains("beta2"));
  CHECK_THROWS_WITH(with([](AdamWConfig& c) { c.eps = -1e-8; }).validate(), Contains("eps"));
  CHECK_THROWS_WITH(with([](AdamWConfig& c) { c.weight_decay = -0.01; }).validate(),
                    Contains("weight_decay"));
  CHECK_THROWS_AS(with([](AdamWConfig& c) { c.eps = -1; }).validate(), ArgumentError);

  const AdamWConfig defaults;  // Hugging Face TrainingArguments
  CHECK(defaults.beta1 == 0.9);
  CHECK(defaults.beta2 == 0.999);
  CHECK(defaults.eps == 1e-8);
  CHECK(defaults.weight_decay == 0.0);

  using Opt = AdamW<CpuDevice, float>;
  CHECK_THROWS_AS(Opt(10, with([](AdamWConfig& c) { c.beta1 = 2; })), ArgumentError);
  CHECK_THROWS_WITH(Opt(10, std::vector<ParamGroup>{{0, 6, true}, {5, 5, false}}), Contains("overlap"));
  CHECK_THROWS_WITH(Opt(10, std::vector<ParamGroup>{{8, 5, true}}), Contains("outside"));
  CHECK_THROWS_AS(Opt(-1), ArgumentError);
  Opt opt(4);
  std::vector<float> p(4, 1.0f), g(4, 0.5f);
  CHECK_THROWS_WITH(opt.step(p.data(), g.data(), -1e-3), Contains("lr"));
  CHECK_THROWS_AS(opt.step(p.data(), g.data(), std::nan("")), ArgumentError);
  CHECK(opt.step_count() == 0);
  CHECK_THROWS_AS(opt.restore(-1, p.data(), p.data()), ArgumentError);

  // Parameters outside every group stay as they are, and their moments at zero.
  Opt partial(4, std::vector<ParamGroup>{{1, 2, true}});
  partial.step(p.data(), g.data(), 1e-2);
  CHECK(p[0] == 1.0f);
  CHECK(p[3] == 1.0f);
  CHECK(p[1] != 1.0f);
  CHECK(partial.exp_avg()[0] == 0.0f);
  CHECK(partial.exp_avg_sq()[3] == 0.0f);
}
