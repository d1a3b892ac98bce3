// SPDX-License-Identifier: MIT
// Every CPU kernel's backward against central finite differences (double), with the probe loss
// L = sum_i w_i * out_i for fixed random w, and the float kernels against the double ones.
// Device-generic (support/test_device.hpp): every buffer handed to a kernel is a test::Vector,
// so the CUDA build (PREFOPT_TEST_CUDA) gives it managed memory the GPU can reach.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "prefopt/device/cpu.hpp"
#include "prefopt/optim/adamw.hpp"
#include "prefopt/optim/grad_clip.hpp"
#include "support/test_device.hpp"
#include "support/gradcheck.hpp"

using namespace prefopt;
using prefopt::test::check_gradient;
using prefopt::test::dot;
using Vec = prefopt::test::Vector<double>;
template <class T>
using TVec = prefopt::test::Vector<T>;

namespace {
const prefopt::test::TestDevice dev{};

Vec random_vector(index_t n, std::uint64_t seed, double scale = 1.0) {
  const auto v = prefopt::test::random_vector(n, seed, scale);
  return Vec(v.begin(), v.end());
}

TVec<float> to_float(const Vec& v) { return TVec<float>(v.begin(), v.end()); }

// Accumulating outputs must add to what is there: start them from `prior` and return the delta.
Vec minus(const Vec& after, const Vec& prior) {
  Vec d(after.size());
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = after[i] - prior[i];
  return d;
}
}  // namespace

TEST_CASE("matmul backward matches central differences", "[device][cpu][grad]") {
  const index_t rows = 5, in = 7, out = 6;
  for (WeightLayout layout : {WeightLayout::in_out, WeightLayout::out_in}) {
    Vec x = random_vector(rows * in, 1), w = random_vector(in * out, 2), b = random_vector(out, 3);
    const Vec probe = random_vector(rows * out, 4);
    Vec y(rows * out);
    auto loss = [&] {
      matmul_forward(dev, y.data(), x.data(), w.data(), b.data(), rows, in, out, layout);
      return dot(probe, y.data());
    };
    Vec dx(rows * in, 99.0);  // '=' output: prior contents must not matter
    const Vec dw_prior = random_vector(in * out, 5), db_prior = random_vector(out, 6);
    Vec dw = dw_prior, db = db_prior;
    matmul_backward(dev, dx.data(), dw.data(), db.data(), probe.data(), x.data(), w.data(),
                         rows, in, out, layout);
    const Vec gw = minus(dw, dw_prior), gb = minus(db, db_prior);
    check_gradient("matmul dinp", x.data(), rows * in, dx.data(), loss);
    check_gradient("matmul dweight", w.data(), in * out, gw.data(), loss);
    check_gradient("matmul dbias", b.data(), out, gb.data(), loss);
  }
}

TEST_CASE("layernorm backward matches central differences", "[device][cpu][grad]") {
  const index_t rows = 6, C = 70;  // C > 64 exercises two column blocks
  Vec x = random_vector(rows * C, 11, 2.0), w = random_vector(C, 12), b = random_vector(C, 13);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] += 0.5 * static_cast<double>(i % 7);
  const Vec probe = random_vector(rows * C, 14);
  Vec y(rows * C), mean(rows), rstd(rows);
  auto loss = [&] {
    layernorm_forward(dev, y.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(),
                           rows, C, 1e-5);
    return dot(probe, y.data());
  };
  loss();
  const Vec dx_prior = random_vector(rows * C, 15), dw_prior = random_vector(C, 16),
            db_prior = random_vector(C, 17);
  Vec dx = dx_prior, dw = dw_prior, db = db_prior;
  layernorm_backward(dev, dx.data(), dw.data(), db.data(), probe.data(), x.data(), w.data(),
                          mean.data(), rstd.data(), rows, C);
  const Vec gx = minus(dx, dx_prior), gw = minus(dw, dw_prior), gb = minus(db, db_prior);
  check_gradient("layernorm dinp", x.data(), rows * C, gx.data(), loss);
  check_gradient("layernorm dweight", w.data(), C, gw.data(), loss);
  check_gradient("layernorm dbias", b.data(), C, gb.data(), loss);
}

TEST_CASE("layernorm forward normalises each row", "[device][cpu]") {
  const index_t C = 4;
  Vec x = {1, 2, 3, 4}, w = {1, 1, 1, 1}, b = {0, 0, 0, 0}, y(C), mean(1), rstd(1);
  layernorm_forward(dev, y.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(),
                         index_t{1}, C, 1e-5);
  // mean 2.5, biased variance 1.25: y = (x - 2.5) / sqrt(1.25 + 1e-5)
  CHECK(mean[0] == Approx(2.5));
  CHECK(y[0] == Approx(-1.5 / std::sqrt(1.25 + 1e-5)).epsilon(1e-14));
  CHECK(y[3] == Approx(1.5 / std::sqrt(1.25 + 1e-5)).epsilon(1e-14));
}

TEST_CASE("gelu is the tanh approximation and its backward matches central differences",
          "[device][cpu][grad]") {
  const index_t n = 9000;  // > one chunk
  Vec x = random_vector(n, 21, 3.0), y(n);
  const Vec probe = random_vector(n, 22);
  auto loss = [&] {
    gelu_forward(dev, y.data(), x.data(), n);
    return dot(probe, y.data());
  };
  loss();
  for (index_t i : {index_t{0}, index_t{17}, n - 1}) {
    const double v = x[i];
    const double expected = 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
    CHECK(y[i] == Approx(expected).epsilon(1e-14));
  }
  Vec dx(n);
  gelu_backward(dev, dx.data(), probe.data(), x.data(), n);
  check_gradient("gelu dinp", x.data(), n, dx.data(), loss);
}

TEST_CASE("embedding backward matches central differences with repeated ids", "[device][cpu][grad]") {
  const index_t n = 7, C = 67, V = 5, P = 4;
  const TVec<token_t> tokens = {3, 1, 3, 0, 4, 3, 1}, positions = {0, 1, 2, 0, 1, 2, 3};
  Vec wte = random_vector(V * C, 31), wpe = random_vector(P * C, 32), y(n * C);
  const Vec probe = random_vector(n * C, 33);
  auto loss = [&] {
    embedding_forward(dev, y.data(), tokens.data(), positions.data(), wte.data(), wpe.data(), n, C);
    return dot(probe, y.data());
  };
  const Vec t_prior = random_vector(V * C, 34), p_prior = random_vector(P * C, 35);
  Vec dwte = t_prior, dwpe = p_prior;
  embedding_backward(dev, dwte.data(), dwpe.data(), probe.data(), tokens.data(),
                          positions.data(), n, C);
  const Vec gt = minus(dwte, t_prior), gp = minus(dwpe, p_prior);
  check_gradient("embedding dwte", wte.data(), V * C, gt.data(), loss);
  check_gradient("embedding dwpe", wpe.data(), P * C, gp.data(), loss);
}

TEST_CASE("residual forward adds and backward passes the gradient to both inputs", "[device][cpu]") {
  Vec a = {1, 2, 3}, b = {10, 20, 30}, y(3), da = {1, 1, 1}, db = {0, 0, 0}, dy = {0.5, -1, 2};
  residual_forward(dev, y.data(), a.data(), b.data(), index_t{3});
  CHECK(y == Vec{11, 22, 33});
  residual_backward(dev, da.data(), db.data(), dy.data(), index_t{3});
  CHECK(da == Vec{1.5, 0, 3});
  CHECK(db == Vec{0.5, -1, 2});
}

namespace {
struct PackedAttention {
  index_t n_head = 2, C = 8;
  TVec<index_t> offsets, att_offsets;
  explicit PackedAttention(const std::vector<index_t>& lengths) {
    offsets = {0};
    att_offsets = {0};
    for (index_t L : lengths) {
      offsets.push_back(offsets.back() + L);
      att_offsets.push_back(att_offsets.back() + n_head * L * L);
    }
  }
  index_t n() const { return offsets.back(); }
  index_t n_seq() const { return static_cast<index_t>(offsets.size()) - 1; }
  index_t att_size() const { return att_offsets.back(); }
  PackedOffsets view() const { return PackedOffsets::host_visible(offsets.data(), att_offsets.data(), n_seq()); }
};
}  // namespace

TEST_CASE("attention backward matches central differences over packed sequences",
          "[device][cpu][grad]") {
  PackedAttention p({1, 4, 7});
  Vec qkv = random_vector(p.n() * 3 * p.C, 41), y(p.n() * p.C), att(p.att_size());
  const Vec probe = random_vector(p.n() * p.C, 42);
  auto loss = [&] {
    attention_forward(dev, y.data(), att.data(), qkv.data(), p.view(), p.n_head, p.C);
    return dot(probe, y.data());
  };
  loss();
  Vec dqkv(qkv.size(), 7.0), scratch(att.size());
  attention_backward(dev, dqkv.data(), scratch.data(), probe.data(), qkv.data(), att.data(),
                          p.view(), p.n_head, p.C);
  check_gradient("attention dqkv", qkv.data(), static_cast<index_t>(qkv.size()), dqkv.data(), loss);
}

TEST_CASE("packed attention equals each sequence alone and never looks ahead", "[device][cpu]") {
  const std::vector<index_t> lengths = {3, 1, 5};
  PackedAttention packed(lengths);
  Vec qkv = random_vector(packed.n() * 3 * packed.C, 51), y(packed.n() * packed.C),
      att(packed.att_size());
  attention_forward(dev, y.data(), att.data(), qkv.data(), packed.view(), packed.n_head, packed.C);
  for (std::size_t s = 0; s < lengths.size(); ++s) {
    PackedAttention alone({lengths[s]});
    const index_t o = packed.offsets[s];
    Vec q1(qkv.begin() + o * 3 * packed.C, qkv.begin() + (o + lengths[s]) * 3 * packed.C);
    Vec y1(lengths[s] * packed.C), a1(alone.att_size());
    attention_forward(dev, y1.data(), a1.data(), q1.data(), alone.view(), packed.n_head, packed.C);
    for (index_t i = 0; i < lengths[s] * packed.C; ++i)
      CHECK(y1[i] == Approx(y[o * packed.C + i]).epsilon(1e-14));
  }
  // Changing the last token of sequence 2 changes nothing before it — bit for bit. Both runs use
  // 64-byte aligned buffers: Eigen's vectorized loops peel a different number of leading elements
  // for differently aligned rows, which alone can move the last bit (the model's arena is always
  // aligned, so this is a property of the test's buffers, not of the model).
  using Aligned = prefopt::test::AlignedVector<double>;
  const Aligned qkv_a(qkv.begin(), qkv.end());
  Aligned qkv2 = qkv_a;
  for (index_t c = 0; c < 3 * packed.C; ++c) qkv2[(packed.n() - 1) * 3 * packed.C + c] += 1.0;
  Aligned y1a(y.size()), att1a(att.size()), y2(y.size()), att2(att.size());
  attention_forward(dev, y1a.data(), att1a.data(), qkv_a.data(), packed.view(), packed.n_head, packed.C);
  attention_forward(dev, y2.data(), att2.data(), qkv2.data(), packed.view(), packed.n_head, packed.C);
  for (index_t i = 0; i < (packed.n() - 1) * packed.C; ++i) CHECK(y2[i] == y1a[i]);
}

#if defined(PREFOPT_TEST_THRUST_OMP) || defined(PREFOPT_TEST_CUDA)
// The thrust devices run the attention as batched GEMMs + softmax rows (device/thrust/attention.hpp);
// their portable twin computes every dot product in a plain loop, one thread per (row, head). Two
// independent forms of the same function, compared in double, with an empty sequence, a
// one-token one and head sizes 4 and 16 — CI runs this on the OpenMP twin, `ctest -L cuda` on a GPU.
TEST_CASE("thrust attention (batched GEMMs + softmax rows) equals its portable one-thread-per-row twin",
          "[device][thrust]") {
  for (const index_t n_head : {index_t{2}, index_t{1}}) {
    PackedAttention p({1, 0, 9, 4});
    p.n_head = n_head;
    p.C = n_head == 2 ? 8 : 16;
    p.att_offsets = {0};
    for (index_t s = 0; s < p.n_seq(); ++s) {
      const index_t L = p.offsets[s + 1] - p.offsets[s];
      p.att_offsets.push_back(p.att_offsets.back() + n_head * L * L);
    }
    const Vec qkv = random_vector(p.n() * 3 * p.C, 81), dy = random_vector(p.n() * p.C, 82);
    Vec y(p.n() * p.C, -1.0), att(p.att_size(), -1.0), ty(y.size(), -2.0), tatt(att.size(), -2.0);
    attention_forward(dev, y.data(), att.data(), qkv.data(), p.view(), p.n_head, p.C);
    thrust_device::portable::attention_forward(dev, ty.data(), tatt.data(), qkv.data(), p.view(), p.n_head, p.C);
    for (std::size_t i = 0; i < y.size(); ++i) REQUIRE(y[i] == Approx(ty[i]).epsilon(1e-12).margin(1e-14));
    for (std::size_t i = 0; i < att.size(); ++i) REQUIRE(att[i] == Approx(tatt[i]).epsilon(1e-12).margin(1e-14));
    Vec dqkv(qkv.size(), 5.0), datt(att.size(), 5.0), tdqkv(qkv.size(), 6.0), tdatt(att.size(), 6.0);
    attention_backward(dev, dqkv.data(), datt.data(), dy.data(), qkv.data(), att.data(), p.view(), p.n_head, p.C);
    thrust_device::portable::attention_backward(dev, tdqkv.data(), tdatt.data(), dy.data(), qkv.data(), att.data(),
                                                p.view(), p.n_head, p.C);
    for (std::size_t i = 0; i < dqkv.size(); ++i)
      REQUIRE(dqkv[i] == Approx(tdqkv[i]).epsilon(1e-11).margin(1e-13));
    for (std::size_t i = 0; i < datt.size(); ++i) REQUIRE(datt[i] == Approx(tdatt[i]).epsilon(1e-11).margin(1e-13));
  }
}

// The thrust devices split embedding_backward's ids into residue classes so that a GPU runs
// classes × C threads (64 on CUDA, 1 on the OpenMP twin); each gradient element is still summed by
// one thread in row order, so every class count must give the CPU device's float bits exactly —
// including counts above the vocabulary and ids repeated hundreds of times.
TEST_CASE("thrust embedding backward gives the CPU device's bits for every number of id classes",
          "[device][thrust]") {
  const index_t n = 300, C = 37, V = 50, P = 64;
  Random rng(97);
  TVec<token_t> tokens(static_cast<std::size_t>(n)), positions(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i) {
    tokens[i] = static_cast<token_t>(i % 3 == 0 ? 7 : rng.below(static_cast<std::uint64_t>(V)));  // 7: 100 repeats
    positions[i] = static_cast<token_t>(i % P);
  }
  const TVec<float> dout = to_float(random_vector(n * C, 98));
  const TVec<float> t_prior = to_float(random_vector(V * C, 99)), p_prior = to_float(random_vector(P * C, 100));
  std::vector<float> want_t(t_prior.begin(), t_prior.end()), want_p(p_prior.begin(), p_prior.end());
  const std::vector<token_t> host_tokens(tokens.begin(), tokens.end()), host_positions(positions.begin(), positions.end());
  const std::vector<float> host_dout(dout.begin(), dout.end());
  cpu::embedding_backward(cpu::CpuDevice{}, want_t.data(), want_p.data(), host_dout.data(), host_tokens.data(),
                          host_positions.data(), n, C);
  auto check = [&](auto classes_constant) {  // the class count is a template argument of the kernel
    constexpr index_t classes = decltype(classes_constant)::value;
    INFO("classes " << classes);
    TVec<float> dwte = t_prior, dwpe = p_prior;
    thrust_device::portable::embedding_backward<classes>(dev, dwte.data(), dwpe.data(), dout.data(), tokens.data(),
                                                         positions.data(), n, C);
    REQUIRE(std::vector<float>(dwte.begin(), dwte.end()) == want_t);
    REQUIRE(std::vector<float>(dwpe.begin(), dwpe.end()) == want_p);
  };
  check(std::integral_constant<index_t, 1>{});
  check(std::integral_constant<index_t, 3>{});
  check(std::integral_constant<index_t, 64>{});
  check(std::integral_constant<index_t, 257>{});
}
#endif

TEST_CASE("fused log-softmax gather matches the direct formula and central differences",
          "[device][cpu][grad]") {
  const index_t rows = 4, V = 33;
  Vec logits = random_vector(rows * V, 61, 3.0), logp(rows), lse(rows);
  logits[5] = 800.0;  // stability: exp of the raw logit would overflow
  const TVec<token_t> targets = {5, 0, 32, 17};
  const Vec probe = random_vector(rows, 62);
  auto loss = [&] {
    logsoftmax_gather_forward(dev, logp.data(), lse.data(), logits.data(), targets.data(), rows, V);
    return dot(probe, logp.data());
  };
  loss();
  CHECK(logp[0] == Approx(0.0).margin(1e-12));  // the 800 logit dominates row 0
  for (index_t r = 1; r < rows; ++r) {
    double z = 0;
    for (index_t v = 0; v < V; ++v) z += std::exp(logits[r * V + v]);
    CHECK(logp[r] == Approx(logits[r * V + targets[r]] - std::log(z)).epsilon(1e-13));
  }
  Vec dlogits = logits;
  logsoftmax_gather_backward(dev, dlogits.data(), lse.data(), targets.data(), probe.data(), rows, V);
  check_gradient("logsoftmax_gather dlogits", logits.data(), rows * V, dlogits.data(), loss);
}

TEST_CASE("float kernels agree with double kernels", "[device][cpu]") {
  const index_t rows = 8, C = 32;
  const Vec x = random_vector(rows * C, 71), w = random_vector(C * C, 72, 0.2), b = random_vector(C, 73);
  Vec yd(rows * C);
  matmul_forward(dev, yd.data(), x.data(), w.data(), b.data(), rows, C, C, WeightLayout::in_out);
  auto xf = to_float(x), wf = to_float(w), bf = to_float(b);
  TVec<float> yf(rows * C);
  matmul_forward(dev, yf.data(), xf.data(), wf.data(), bf.data(), rows, C, C, WeightLayout::in_out);
  for (index_t i = 0; i < rows * C; ++i) CHECK(yf[i] == Approx(yd[i]).margin(1e-5));
  TVec<float> gf(rows * C);
  Vec gd(rows * C);
  gelu_forward(dev, gd.data(), x.data(), rows * C);
  gelu_forward(dev, gf.data(), xf.data(), rows * C);
  for (index_t i = 0; i < rows * C; ++i) CHECK(gf[i] == Approx(gd[i]).margin(1e-6));
}

TEST_CASE("per-sequence log-prob sums and weight broadcast follow the packed batch's targets", "[device][cpu]") {
  // Three sequences of 4, 1 and 5 tokens; unscored rows (no_target) are skipped and get weight 0.
  const TVec<index_t> offsets = {0, 4, 5, 10};
  const TVec<token_t> targets = {no_target, 3, 7, no_target, no_target, 1, 2, no_target, 4, no_target};
  const Vec logps = random_vector(10, 91);
  Vec sums(3, -1.0);
  sequence_logp_sums(dev, sums.data(), logps.data(), targets.data(), offsets.data(), index_t{3});
  CHECK(sums[0] == logps[1] + logps[2]);  // position order, in double: exact
  CHECK(sums[1] == 0.0);
  CHECK(sums[2] == (logps[5] + logps[6]) + logps[8]);
  const Vec seq_weights = {0.5, -2.0, 3.25};
  Vec w(10, 9.0);
  broadcast_sequence_weights(dev, w.data(), seq_weights.data(), targets.data(), offsets.data(), index_t{3},
                             index_t{10});
  const Vec expected = {0, 0.5, 0.5, 0, 0, 3.25, 3.25, 0, 3.25, 0};
  CHECK(w == expected);
}

TEST_CASE("the gradient clip runs on the device with the CPU device's bits, and a non-finite norm calls the update off",
          "[device][cpu][clip]") {
  // Several groups of partials, the last group and the last chunk both short.
  const index_t n = 3 * sum_of_squares_group * sum_of_squares_chunk / 2 + 4321;
  const TVec<float> original = to_float(random_vector(n, 77, 0.01));
  const std::vector<float> host(original.begin(), original.end());
  const double cpu_norm = std::sqrt(cpu::sum_of_squares(CpuDevice{}, host.data(), n));
  long double exact = 0;
  for (float v : host) exact += static_cast<long double>(v) * v;
  CHECK(cpu_norm * cpu_norm == Approx(static_cast<double>(exact)).epsilon(1e-12));
  GradientClipper<test::TestDevice, float> clipper(dev, n);

  SECTION("clipping to half the norm: the CPU device's norm, PyTorch's float coefficient") {
    TVec<float> g = original;
    clipper.clip(g.data(), cpu_norm / 2);
    const GradClipState s = clipper.read();
    CHECK(s.total_norm == cpu_norm);  // bit for bit: the one summation order
    CHECK(s.proceed == 1);
    const float coef = (1.0f / (static_cast<float>(cpu_norm) + 1e-6f)) * static_cast<float>(cpu_norm / 2);
    CHECK(s.coefficient == static_cast<double>(coef));
    index_t differing = 0;
    for (index_t i = 0; i < n; ++i) differing += g[i] != host[i] * coef;
    CHECK(differing == 0);
  }
  SECTION("below max_norm, or with clipping off, the gradients stay as they are") {
    for (double max_norm : {10 * cpu_norm, 0.0}) {
      TVec<float> g = original;
      clipper.clip(g.data(), max_norm);
      const GradClipState s = clipper.read();
      CHECK(s.total_norm == cpu_norm);
      CHECK(s.coefficient == 1.0);
      CHECK(std::equal(g.begin(), g.end(), host.begin()));
    }
  }
  SECTION("a NaN gradient: proceed is 0, the gradients are left alone and AdamW changes nothing") {
    TVec<float> g = original;
    g[n / 3] = std::numeric_limits<float>::quiet_NaN();
    const std::vector<float> poisoned(g.begin(), g.end());
    clipper.clip(g.data(), 1e-3);
    const GradClipState s = clipper.read();
    CHECK(std::isnan(s.total_norm));
    CHECK(s.proceed == 0);
    CHECK(std::memcmp(g.data(), poisoned.data(), sizeof(float) * poisoned.size()) == 0);
    TVec<float> params = to_float(random_vector(n, 78));
    const std::vector<float> before(params.begin(), params.end());
    AdamWConfig config;
    config.weight_decay = 0.1;  // a decayed parameter would change even with a zero gradient
    AdamW<test::TestDevice, float> opt(n, config, dev);
    opt.step(params.data(), g.data(), 1e-2, clipper.device_proceed());
    CHECK(std::equal(params.begin(), params.end(), before.begin()));
    CHECK(std::all_of(opt.exp_avg(), opt.exp_avg() + n, [](float m) { return m == 0.0f; }));
    CHECK(std::all_of(opt.exp_avg_sq(), opt.exp_avg_sq() + n, [](float v) { return v == 0.0f; }));
    // The same optimizer goes ahead once a clip of finite gradients lets it.
    TVec<float> fine = original;
    clipper.clip(fine.data(), 1.0);
    opt.step(params.data(), fine.data(), 1e-2, clipper.device_proceed());
    CHECK_FALSE(std::equal(params.begin(), params.end(), before.begin()));
  }
}
