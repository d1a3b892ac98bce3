// SPDX-License-Identifier: MIT
// Every CudaDevice kernel against the CPU device's on seeded random inputs, a tiny GPT-2's
// forward and backward on both devices, and each fast kernel (device/cuda/) against its portable
// twin (thrust_device::portable, device/thrust/) on the same GPU. CudaDevice memory is not host accessible: inputs go up
// with copy_from_host and results come back with copy_to_host. The CPU side is built by the host
// compiler (cuda_device_reference.cpp). Without a CUDA device the binary prints
// "SKIPPED: no CUDA device" and exits 77 (CTest: skipped).
//
// With PREFOPT_TEST_SIMT the host compiler builds this same file on SimtDevice
// (tests/support/simt/simt_device.hpp: CudaDevice's code over the SIMT emulator and its reference
// cuBLAS), so every case here also runs in CI, without a GPU (cuda_device_test_simt, label simt).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#if defined(PREFOPT_TEST_SIMT)
#include "support/simt/simt_device.hpp"
#else
#include <cuda_runtime.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "../model/tiny_model.hpp"
#include "cuda_device_reference.hpp"
#include "prefopt/core/random.hpp"
#include "prefopt/model/gpt2.hpp"
#if !defined(PREFOPT_TEST_SIMT)
#include "prefopt/device/cuda.hpp"
#endif

using namespace prefopt;
namespace ref = prefopt::cuda_test::ref;

namespace {
#if defined(PREFOPT_TEST_SIMT)
using DeviceUnderTest = test::SimtDevice;
using thrust_device::cuda_gemm_precision;
using thrust_device::cuda_tf32;
using thrust_device::CudaGemmPrecision;
using thrust_device::set_cuda_gemm_precision;
using thrust_device::set_cuda_tf32;
#else
using DeviceUnderTest = CudaDevice;
#endif
const DeviceUnderTest dev{};

std::vector<float> random_floats(std::size_t n, std::uint64_t seed, double scale = 1.0) {
  Random rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(scale * rng.normal());
  return v;
}

/// A device copy of a host vector; host() brings it back.
template <class T>
struct Dev {
  DeviceUnderTest::vector<T> v;
  explicit Dev(const std::vector<T>& h) : v(h.size()) { dev.copy_from_host(h.data(), static_cast<index_t>(h.size()), v.data()); }
  T* p() { return v.data(); }
  std::vector<T> host() const {
    std::vector<T> h(v.size());
    dev.copy_to_host(v.data(), static_cast<index_t>(v.size()), h.data());
    return h;
  }
};
template <class T>
Dev<T> up(const std::vector<T>& h) {
  return Dev<T>(h);
}

void require_close(const char* what, const std::vector<float>& gpu, const std::vector<float>& cpu, double rel = 1e-5) {
  REQUIRE(gpu.size() == cpu.size());
  double scale = 0;
  for (float x : cpu) scale = std::max(scale, static_cast<double>(std::fabs(x)));
  for (std::size_t i = 0; i < cpu.size(); ++i) {
    const double tol = rel * std::max(1.0, std::max(scale, static_cast<double>(std::fabs(cpu[i]))));
    if (!(std::fabs(static_cast<double>(gpu[i]) - cpu[i]) <= tol)) {
      INFO(what << "[" << i << "]: cuda " << gpu[i] << " cpu " << cpu[i] << " (tol " << tol << ")");
      CHECK(false);
      return;
    }
  }
  SUCCEED(what);
}

std::vector<token_t> random_ids(std::size_t n, index_t below, std::uint64_t seed) {
  Random rng(seed);
  std::vector<token_t> t(n);
  for (auto& x : t) x = static_cast<token_t>(rng.below(static_cast<std::uint64_t>(below)));
  return t;
}
}  // namespace

TEST_CASE("cuda matmul forward and backward match the CPU device", "[cuda][device]") {
  // rows 1, 37 and 1000: one, two and 32 chunks of the bias gradient's two-pass column sum
  const index_t in = 24, out = 40;
  for (const index_t rows : {index_t{1}, index_t{37}, index_t{1000}})
  for (WeightLayout layout : {WeightLayout::in_out, WeightLayout::out_in}) {
    INFO("rows " << rows);
    const auto x = random_floats(rows * in, 1), w = random_floats(in * out, 2), b = random_floats(out, 3);
    const auto dy = random_floats(rows * out, 4), dw0 = random_floats(in * out, 5), db0 = random_floats(out, 6);
    std::vector<float> y(rows * out), dx(rows * in, 99.f), dw = dw0, db = db0;
    ref::matmul_forward(y.data(), x.data(), w.data(), b.data(), rows, in, out, layout);
    ref::matmul_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), rows, in, out, layout);
    auto gx = up(x);
    auto gw = up(w);
    auto gb = up(b);
    auto gdy = up(dy);
    auto gy = up(std::vector<float>(rows * out, 7.f));
    auto gdx = up(std::vector<float>(rows * in, 99.f));
    auto gdw = up(dw0);
    auto gdb = up(db0);
    matmul_forward(dev, gy.p(), gx.p(), gw.p(), gb.p(), rows, in, out, layout);
    matmul_backward(dev, gdx.p(), gdw.p(), gdb.p(), gdy.p(), gx.p(), gw.p(), rows, in, out, layout);
    require_close("matmul out", gy.host(), y);
    require_close("matmul dinp", gdx.host(), dx);
    require_close("matmul dweight", gdw.host(), dw);
    require_close("matmul dbias", gdb.host(), db);
    // no bias
    ref::matmul_forward(y.data(), x.data(), w.data(), nullptr, rows, in, out, layout);
    matmul_forward(dev, gy.p(), gx.p(), gw.p(), static_cast<const float*>(nullptr), rows, in, out, layout);
    require_close("matmul out (no bias)", gy.host(), y);
  }
}

namespace {
/// 768-long dot products of N(0, 1) values, on the device as one matmul_forward and as a strided
/// batch of `batch` copies (the attention's GEMM path), each compared with the CPU reference:
/// the largest error relative to the products' scale.
struct GemmPrecisionProbe {
  static constexpr index_t rows = 64, in = 768, out = 96, batch = 3;
  std::vector<float> x = random_floats(rows * in, 11), w = random_floats(in * out, 12), y, yb;
  Dev<float> gx{x}, gw{w}, gy{std::vector<float>(rows * out, 0.f)};
  Dev<float> gxb{repeat(x)}, gyb{std::vector<float>(batch * rows * out, 0.f)};

  GemmPrecisionProbe() : y(rows * out) {
    ref::matmul_forward(y.data(), x.data(), w.data(), nullptr, rows, in, out, WeightLayout::in_out);
    yb = repeat(y);
  }
  static std::vector<float> repeat(const std::vector<float>& v) {
    std::vector<float> r;
    for (index_t b = 0; b < batch; ++b) r.insert(r.end(), v.begin(), v.end());
    return r;
  }
  static double rel_error(const std::vector<float>& got, const std::vector<float>& want) {
    double worst = 0, scale = 0;
    for (float v : want) scale = std::max(scale, static_cast<double>(std::fabs(v)));
    for (std::size_t i = 0; i < want.size(); ++i)
      worst = std::max(worst, std::fabs(static_cast<double>(got[i]) - want[i]) / scale);
    return worst;
  }
  double matmul_error() {
    matmul_forward(dev, gy.p(), gx.p(), gw.p(), static_cast<const float*>(nullptr), rows, in, out, WeightLayout::in_out);
    return rel_error(gy.host(), y);
  }
  double batched_error() {  // x_b (rows, in) · w (in, out), w shared (stride 0)
    thrust_device::cuda_kernels::gemm_batched(false, false, rows, out, in, 1.0f, gxb.p(), in, rows * in, gw.p(), out,
                                              index_t(0), gyb.p(), out, rows * out, batch);
    return rel_error(gyb.host(), yb);
  }
};
}  // namespace

TEST_CASE("set_cuda_tf32 switches float GEMMs to TF32 tensor cores and back", "[cuda][device]") {
  // Float GEMMs agree with the CPU device to ~1e-6; TF32 rounds each operand to a 10-bit mantissa
  // (relative 2^-11 each), so a product's error is about 1e-3 of the operands' scale — above
  // float's 1e-5 tolerance, inside 2e-2.
  REQUIRE_FALSE(cuda_tf32());
  GemmPrecisionProbe probe;
  const double strict = probe.matmul_error();
  set_cuda_tf32(true);
  const double tf32 = probe.matmul_error();
  set_cuda_tf32(false);
  const double strict_again = probe.matmul_error();
  INFO("max error / scale: float " << strict << ", tf32 " << tf32 << ", float again " << strict_again);
  CHECK(strict < 1e-5);
  CHECK(tf32 > 1e-5);
  CHECK(tf32 < 2e-2);
  CHECK(strict_again == strict);
}

TEST_CASE("set_cuda_gemm_precision(bf16) runs float GEMMs on bfloat16 tensor cores, batched ones too, and back",
          "[cuda][device]") {
  // bfloat16 keeps 7 mantissa bits (relative 2^-9 per operand), so the same products as the TF32
  // case land about 8 times further off — above float's 1e-5, inside 5e-2 of the scale. cuBLAS
  // may also pick TF32 for CUBLAS_COMPUTE_32F_FAST_16BF, which lands inside the same bounds.
  REQUIRE(cuda_gemm_precision() == CudaGemmPrecision::fp32);
  GemmPrecisionProbe probe;
  const double strict = probe.matmul_error(), strict_batched = probe.batched_error();
  set_cuda_gemm_precision(CudaGemmPrecision::bf16);
  CHECK_FALSE(cuda_tf32());
  const double bf16 = probe.matmul_error(), bf16_batched = probe.batched_error();
  set_cuda_gemm_precision(CudaGemmPrecision::fp32);
  const double strict_again = probe.matmul_error();
  INFO("max error / scale: float " << strict << " (batched " << strict_batched << "), bf16 " << bf16 << " (batched "
                                   << bf16_batched << "), float again " << strict_again);
  CHECK(strict < 1e-5);
  CHECK(strict_batched < 1e-5);
  CHECK(bf16 > 1e-5);
  CHECK(bf16 < 5e-2);
  CHECK(bf16_batched > 1e-5);
  CHECK(bf16_batched < 5e-2);
  CHECK(strict_again == strict);
}

TEST_CASE("cuda layernorm matches the CPU device", "[cuda][device]") {
  const index_t rows = 19, C = 70;
  auto x = random_floats(rows * C, 11, 2.0);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] += 0.5f * static_cast<float>(i % 7);
  const auto w = random_floats(C, 12), b = random_floats(C, 13), dy = random_floats(rows * C, 14);
  const auto dx0 = random_floats(rows * C, 15), dw0 = random_floats(C, 16), db0 = random_floats(C, 17);
  std::vector<float> y(rows * C), mean(rows), rstd(rows), dx = dx0, dw = dw0, db = db0;
  ref::layernorm_forward(y.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), rows, C, 1e-5f);
  ref::layernorm_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), mean.data(), rstd.data(), rows, C);
  auto gx = up(x);
  auto gw = up(w);
  auto gb = up(b);
  auto gdy = up(dy);
  auto gy = up(std::vector<float>(rows * C));
  auto gm = up(std::vector<float>(rows));
  auto gr = up(std::vector<float>(rows));
  auto gdx = up(dx0);
  auto gdw = up(dw0);
  auto gdb = up(db0);
  layernorm_forward(dev, gy.p(), gm.p(), gr.p(), gx.p(), gw.p(), gb.p(), rows, C, 1e-5f);
  layernorm_backward(dev, gdx.p(), gdw.p(), gdb.p(), gdy.p(), gx.p(), gw.p(), gm.p(), gr.p(), rows, C);
  require_close("layernorm out", gy.host(), y);
  require_close("layernorm mean", gm.host(), mean);
  require_close("layernorm rstd", gr.host(), rstd);
  require_close("layernorm dinp", gdx.host(), dx);
  require_close("layernorm dweight", gdw.host(), dw);
  require_close("layernorm dbias", gdb.host(), db);
}

TEST_CASE("cuda gelu and residual match the CPU device", "[cuda][device]") {
  const index_t n = 1000;
  const auto x = random_floats(n, 21, 3.0), dy = random_floats(n, 22), a0 = random_floats(n, 23), b0 = random_floats(n, 24);
  std::vector<float> y(n), dx(n), ra(n), da = a0, db = b0;
  ref::gelu_forward(y.data(), x.data(), n);
  ref::gelu_backward(dx.data(), dy.data(), x.data(), n);
  ref::residual_forward(ra.data(), a0.data(), b0.data(), n);
  ref::residual_backward(da.data(), db.data(), dy.data(), n);
  auto gx = up(x);
  auto gdy = up(dy);
  auto gy = up(std::vector<float>(n));
  auto gdx = up(std::vector<float>(n));
  auto ga = up(a0);
  auto gb = up(b0);
  auto gra = up(std::vector<float>(n));
  gelu_forward(dev, gy.p(), gx.p(), n);
  gelu_backward(dev, gdx.p(), gdy.p(), gx.p(), n);
  residual_forward(dev, gra.p(), ga.p(), gb.p(), n);
  residual_backward(dev, ga.p(), gb.p(), gdy.p(), n);
  require_close("gelu out", gy.host(), y);
  require_close("gelu dinp", gdx.host(), dx);
  require_close("residual out", gra.host(), ra);
  require_close("residual da", ga.host(), da);
  require_close("residual db", gb.host(), db);
}

TEST_CASE("cuda embedding matches the CPU device", "[cuda][device]") {
  const index_t n = 23, C = 16, V = 9, P = 12;
  const auto tokens = random_ids(n, V, 31), positions = random_ids(n, P, 32);  // repeated ids on purpose
  const auto wte = random_floats(V * C, 33), wpe = random_floats(P * C, 34), dy = random_floats(n * C, 35);
  std::vector<float> y(n * C), dwte = random_floats(V * C, 36), dwpe = random_floats(P * C, 37);
  auto gdwte = up(dwte);
  auto gdwpe = up(dwpe);
  ref::embedding_forward(y.data(), tokens.data(), positions.data(), wte.data(), wpe.data(), n, C);
  ref::embedding_backward(dwte.data(), dwpe.data(), dy.data(), tokens.data(), positions.data(), n, C);
  auto gt = up(tokens);
  auto gp = up(positions);
  auto gwte = up(wte);
  auto gwpe = up(wpe);
  auto gdy = up(dy);
  auto gy = up(std::vector<float>(n * C));
  embedding_forward(dev, gy.p(), gt.p(), gp.p(), gwte.p(), gwpe.p(), n, C);
  embedding_backward(dev, gdwte.p(), gdwpe.p(), gdy.p(), gt.p(), gp.p(), n, C);
  require_close("embedding out", gy.host(), y);
  require_close("embedding dwte", gdwte.host(), dwte);
  require_close("embedding dwpe", gdwpe.host(), dwpe);
}

TEST_CASE("cuda attention forward and backward match the CPU device over 3 packed sequences", "[cuda][device]") {
  const index_t NH = 2, C = 16;
  const std::vector<index_t> seq_offsets = {0, 5, 6, 15};  // lengths 5, 1, 9
  const index_t n_seq = 3, N = seq_offsets.back();
  std::vector<index_t> att_offsets(n_seq + 1);
  index_t att_size = 0;
  for (index_t s = 0; s < n_seq; ++s) {
    const index_t L = seq_offsets[s + 1] - seq_offsets[s];
    att_offsets[s] = att_size;
    att_size += NH * L * L;
  }
  att_offsets[n_seq] = att_size;
  const auto qkv = random_floats(N * 3 * C, 41), dy = random_floats(N * C, 42);
  std::vector<float> y(N * C), att(att_size), dqkv(N * 3 * C, 5.f), datt(att_size, 3.f);
  ref::attention_forward(y.data(), att.data(), qkv.data(), seq_offsets.data(), att_offsets.data(), n_seq, NH, C);
  ref::attention_backward(dqkv.data(), datt.data(), dy.data(), qkv.data(), att.data(), seq_offsets.data(),
                          att_offsets.data(), n_seq, NH, C);
  auto gq = up(qkv);
  auto gdy = up(dy);
  auto gso = up(seq_offsets);
  auto gao = up(att_offsets);
  auto gy = up(std::vector<float>(N * C, 1.f));
  auto gatt = up(std::vector<float>(att_size, 1.f));
  auto gdq = up(std::vector<float>(N * 3 * C, 5.f));
  auto gdatt = up(std::vector<float>(att_size, 3.f));
  const PackedOffsets offsets{gso.p(), gao.p(), seq_offsets.data(), att_offsets.data(), n_seq};
  attention_forward(dev, gy.p(), gatt.p(), gq.p(), offsets, NH, C);
  attention_backward(dev, gdq.p(), gdatt.p(), gdy.p(), gq.p(), gatt.p(), offsets, NH, C);
  require_close("attention out", gy.host(), y);
  require_close("attention att", gatt.host(), att);
  require_close("attention dqkv", gdq.host(), dqkv);
}

TEST_CASE("cuda logsoftmax_gather matches the CPU device", "[cuda][device]") {
  const index_t rows = 17, V = 301;
  const auto logits = random_floats(rows * V, 51, 3.0), weights = random_floats(rows, 52);
  const auto targets = random_ids(rows, V, 53);
  std::vector<float> logp(rows), lse(rows), dlogits = logits;
  ref::logsoftmax_gather_forward(logp.data(), lse.data(), logits.data(), targets.data(), rows, V);
  ref::logsoftmax_gather_backward(dlogits.data(), lse.data(), targets.data(), weights.data(), rows, V);
  auto gz = up(logits);
  auto gw = up(weights);
  auto gt = up(targets);
  auto glogp = up(std::vector<float>(rows));
  auto glse = up(std::vector<float>(rows));
  logsoftmax_gather_forward(dev, glogp.p(), glse.p(), gz.p(), gt.p(), rows, V);
  logsoftmax_gather_backward(dev, gz.p(), glse.p(), gt.p(), gw.p(), rows, V);
  require_close("logsoftmax logp", glogp.host(), logp);
  require_close("logsoftmax lse", glse.host(), lse);
  require_close("logsoftmax dlogits", gz.host(), dlogits);
}

TEST_CASE("cuda attention_decode_forward matches the CPU device", "[cuda][device]") {
  const index_t NH = 2, C = 16, max_len = 12, n_slots = 3;
  const std::vector<index_t> new_offsets = {0, 1, 4};  // one sequence decodes 1 row, one prefills 3
  const std::vector<index_t> slots = {2, 0}, past = {5, 2};
  const index_t n_seq = 2, n_new = new_offsets.back();
  std::vector<index_t> score_offsets(n_seq);
  index_t score_size = 0;
  for (index_t i = 0; i < n_seq; ++i) {
    const index_t n = new_offsets[i + 1] - new_offsets[i];
    score_offsets[i] = score_size;
    score_size += NH * n * (past[i] + n);
  }
  const auto qkv = random_floats(n_new * 3 * C, 61);
  std::vector<float> kc = random_floats(n_slots * max_len * C, 62), vc = random_floats(n_slots * max_len * C, 63);
  auto gkc = up(kc);
  auto gvc = up(vc);
  std::vector<float> y(n_new * C), scores(score_size);
  ref::attention_decode_forward(y.data(), kc.data(), vc.data(), scores.data(), qkv.data(), new_offsets.data(),
                                slots.data(), past.data(), score_offsets.data(), n_seq, NH, C, max_len);
  auto gq = up(qkv);
  auto gno = up(new_offsets);
  auto gsl = up(slots);
  auto gpa = up(past);
  auto gso = up(score_offsets);
  auto gy = up(std::vector<float>(n_new * C));
  auto gs = up(std::vector<float>(score_size));
  attention_decode_forward(dev, gy.p(), gkc.p(), gvc.p(), gs.p(), gq.p(), gno.p(), gsl.p(), gpa.p(), gso.p(), n_seq,
                           n_new, NH, C, max_len);
  require_close("decode out", gy.host(), y);
  require_close("decode scores", gs.host(), scores);
  require_close("decode key cache", gkc.host(), kc);
  require_close("decode value cache", gvc.host(), vc);
}

TEST_CASE("cuda sum_of_squares is bit-equal to the CPU device's", "[cuda][device]") {
  for (index_t n : {index_t{1}, index_t{7}, index_t{8195}, index_t{50000}}) {
    const auto x = random_floats(static_cast<std::size_t>(n), 71 + static_cast<std::uint64_t>(n));
    auto gx = up(x);
    const double cpu = ref::sum_of_squares(x.data(), n), gpu = sum_of_squares(dev, gx.p(), n);
    INFO("n = " << n);
    CHECK(gpu == cpu);
  }
}

TEST_CASE("cuda adamw_update matches the CPU device", "[cuda][device]") {
  const index_t n = 777;
  std::vector<float> p = random_floats(n, 81), g = random_floats(n, 82), m = random_floats(n, 83, 0.1);
  std::vector<float> v = random_floats(n, 84, 0.1);
  for (auto& x : v) x = x * x;
  for (double wd : {0.0, 0.01}) {
    AdamWStepParams sp;
    sp.lr = 1e-3;
    sp.weight_decay = wd;
    sp.step = 3;
    auto gp = up(p);
    auto gg = up(g);
    auto gm = up(m);
    auto gv = up(v);
    std::vector<float> cp = p, cm = m, cv = v;
    ref::adamw_update(cp.data(), g.data(), cm.data(), cv.data(), n, sp);
    adamw_update(dev, gp.p(), gg.p(), gm.p(), gv.p(), n, sp);
    require_close("adamw params", gp.host(), cp);
    require_close("adamw exp_avg", gm.host(), cm);
    require_close("adamw exp_avg_sq", gv.host(), cv);
  }
}

TEST_CASE("Gpt2<CudaDevice> forward and backward match Gpt2<CpuDevice> on the tiny config", "[cuda][device][model]") {
  const Gpt2Config config = test::tiny_config();
  const PackedBatch batch = test::pack(test::tiny_sequences(config.vocab_size));
  const auto token_weights = random_floats(static_cast<std::size_t>(batch.n_tokens()), 91);
  std::vector<float> params, logps, grads;
  ref::gpt2_forward_backward(config, batch, 7, params, token_weights, logps, grads);

  Gpt2<DeviceUnderTest, float> model(config);
  REQUIRE(static_cast<std::size_t>(model.num_parameters()) == params.size());
  model.set_parameters(params.data());
  auto glogp = up(std::vector<float>(logps.size()));
  auto gw = up(token_weights);
  const auto record = model.forward(batch, glogp.p());
  model.zero_gradients();
  model.backward(record, gw.p());
  std::vector<float> g(grads.size());
  dev.copy_to_host(model.gradients(), model.num_parameters(), g.data());
  require_close("gpt2 token log-probs", glogp.host(), logps, 1e-4);
  require_close("gpt2 gradients", g, grads, 1e-4);
}

// ---- the fast kernels (device/cuda/) against their portable twins (device/thrust/), both on the GPU
//
// Tolerance: the fast and portable kernels evaluate the same formulas in float; only the order of
// the row sums differs (a warp/block butterfly or chunked column sums against one thread's
// sequential walk), and the streaming log-sum-exp rescales partial sums by exp(m_old - m_new).
// Reordering a float sum of n terms moves it by at most ~log2(n)·eps·Σ|terms| for a tree and
// n·eps·Σ|terms| for the sequential walk, and with these random, zero-mean inputs by
// ~sqrt(n)·eps·rms in practice: for the longest rows (V = 50,257, sqrt(n)·eps ≈ 2.7e-5 worst
// case, ≈ 1e-6 typical after the division by the row sum) a relative 1e-5 of each output's scale
// (require_close: rel · max(1, max |reference|)) is comfortably above rounding and far below any
// real bug (a wrong index or a missed term moves results by O(1e-2) or more). The parameter
// gradients sum up to 70 rows: 1e-5 as well.
//
// And each fast kernel is deterministic: a second run is compared bit for bit.

namespace portable = prefopt::thrust_device::portable;

/// The tolerance between two float reductions of n terms summed in different orders (the
/// portable twin's sequential walk, the fast kernel's lanes and butterfly): rounding grows like
/// √n·2^-24 for sequential sums, so 1e-5 holds to about a thousand terms and the 50,257-term
/// vocabulary row needs 7e-5. (On the SIMT emulator, a row of 50,257 values with mean 1.5001761:
/// the fast kernel's lanes-then-butterfly sum gave 1.5001763, the portable twin's sequential one
/// 1.5001923 — the twin carries the error, 1.1e-5 relative.)
double reduction_tolerance(index_t n) { return 1e-5 * std::max(1.0, std::sqrt(static_cast<double>(n) / 1000.0)); }

namespace {
void require_same_bits(const char* what, const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0) {
      INFO(what << "[" << i << "]: " << a[i] << " then " << b[i]);
      CHECK(false);
      return;
    }
  SUCCEED(what);
}
}  // namespace

TEST_CASE("fast layernorm matches its portable twin on the GPU (C = 1, 31, 33, 768, 50257)", "[cuda][device][fast]") {
  for (index_t C : {index_t{1}, index_t{31}, index_t{33}, index_t{768}, index_t{50257}}) {
    for (index_t rows : {index_t{1}, index_t{33}, index_t{70}}) {
      INFO("rows " << rows << " C " << C);
      const std::uint64_t seed = 1000 + static_cast<std::uint64_t>(C * 7 + rows);
      auto x = random_floats(rows * C, seed, 2.0);
      for (std::size_t i = 0; i < x.size(); ++i) x[i] += 0.5f * static_cast<float>(i % 7);  // nonzero means
      const auto w = random_floats(C, seed + 1), b = random_floats(C, seed + 2), dy = random_floats(rows * C, seed + 3);
      const auto dx0 = random_floats(rows * C, seed + 4), dw0 = random_floats(C, seed + 5), db0 = random_floats(C, seed + 6);
      auto gx = up(x);
      auto gw = up(w);
      auto gb = up(b);
      auto gdy = up(dy);
      // portable twin
      auto py = up(std::vector<float>(rows * C));
      auto pm = up(std::vector<float>(rows));
      auto pr = up(std::vector<float>(rows));
      auto pdx = up(dx0);
      auto pdw = up(dw0);
      auto pdb = up(db0);
      portable::layernorm_forward(dev, py.p(), pm.p(), pr.p(), gx.p(), gw.p(), gb.p(), rows, C, 1e-5f);
      portable::layernorm_backward(dev, pdx.p(), pdw.p(), pdb.p(), gdy.p(), gx.p(), gw.p(), pm.p(), pr.p(), rows, C);
      // fast kernels, twice
      std::vector<float> first[6];
      for (int run = 0; run < 2; ++run) {
        auto fy = up(std::vector<float>(rows * C));
        auto fm = up(std::vector<float>(rows));
        auto fr = up(std::vector<float>(rows));
        auto fdx = up(dx0);
        auto fdw = up(dw0);
        auto fdb = up(db0);
        layernorm_forward(dev, fy.p(), fm.p(), fr.p(), gx.p(), gw.p(), gb.p(), rows, C, 1e-5f);
        layernorm_backward(dev, fdx.p(), fdw.p(), fdb.p(), gdy.p(), gx.p(), gw.p(), fm.p(), fr.p(), rows, C);
        const std::vector<float> got[6] = {fy.host(), fm.host(), fr.host(), fdx.host(), fdw.host(), fdb.host()};
        const char* names[6] = {"out", "mean", "rstd", "dinp", "dweight", "dbias"};
        if (run == 0) {
          require_close("fast layernorm out", got[0], py.host(), reduction_tolerance(C));
          require_close("fast layernorm mean", got[1], pm.host(), reduction_tolerance(C));
          require_close("fast layernorm rstd", got[2], pr.host(), reduction_tolerance(C));
          require_close("fast layernorm dinp", got[3], pdx.host(), reduction_tolerance(C));
          require_close("fast layernorm dweight", got[4], pdw.host(), reduction_tolerance(rows));
          require_close("fast layernorm dbias", got[5], pdb.host(), reduction_tolerance(rows));
          for (int k = 0; k < 6; ++k) first[k] = got[k];
        } else {
          for (int k = 0; k < 6; ++k) require_same_bits(names[k], got[k], first[k]);
        }
      }
    }
  }
}

TEST_CASE("fast log-softmax gather matches its portable twin on the GPU (V = 1, 31, 33, 768, 50257)",
          "[cuda][device][fast]") {
  for (index_t V : {index_t{1}, index_t{31}, index_t{33}, index_t{768}, index_t{50257}}) {
    for (index_t rows : {index_t{1}, index_t{7}, index_t{64}}) {
      INFO("rows " << rows << " V " << V);
      const std::uint64_t seed = 2000 + static_cast<std::uint64_t>(V * 3 + rows);
      auto logits = random_floats(rows * V, seed, 3.0);
      logits[0] = 80.f;  // a dominant logit: exp without the max shift would overflow in float
      const auto weights = random_floats(rows, seed + 1);
      const auto targets = random_ids(rows, V, seed + 2);
      auto gt = up(targets);
      auto gw = up(weights);
      auto pz = up(logits);
      auto plogp = up(std::vector<float>(rows));
      auto plse = up(std::vector<float>(rows));
      portable::logsoftmax_gather_forward(dev, plogp.p(), plse.p(), pz.p(), gt.p(), rows, V);
      const auto ref_logp = plogp.host(), ref_lse = plse.host();
      portable::logsoftmax_gather_backward(dev, pz.p(), plse.p(), gt.p(), gw.p(), rows, V);
      const auto ref_dlogits = pz.host();
      std::vector<float> first[3];
      for (int run = 0; run < 2; ++run) {
        auto fz = up(logits);
        auto flogp = up(std::vector<float>(rows));
        auto flse = up(std::vector<float>(rows));
        logsoftmax_gather_forward(dev, flogp.p(), flse.p(), fz.p(), gt.p(), rows, V);
        const auto logp = flogp.host(), lse = flse.host();
        logsoftmax_gather_backward(dev, fz.p(), flse.p(), gt.p(), gw.p(), rows, V);
        const auto dlogits = fz.host();
        if (run == 0) {
          require_close("fast logsoftmax logp", logp, ref_logp, reduction_tolerance(V));
          require_close("fast logsoftmax lse", lse, ref_lse, reduction_tolerance(V));
          require_close("fast logsoftmax dlogits", dlogits, ref_dlogits, reduction_tolerance(V));
          first[0] = logp;
          first[1] = lse;
          first[2] = dlogits;
        } else {
          require_same_bits("logp", logp, first[0]);
          require_same_bits("lse", lse, first[1]);
          require_same_bits("dlogits", dlogits, first[2]);
        }
      }
    }
  }
}

TEST_CASE("attention (cuBLAS batched GEMMs + warp softmax rows) matches its portable twin on the GPU",
          "[cuda][device][fast]") {
  struct Shape {
    index_t n_head, C;
    std::vector<index_t> lengths;
  };
  // head sizes 8 and 64 (GPT-2's); lengths 0, 1, 31, 33 and 100 put nothing, 1, <1, >1 and >3 warps' worth of
  // keys in a row; 512 is the benchmark's sequence length
  const Shape shapes[] = {{2, 16, {5, 1, 0, 9}}, {3, 24, {31, 33}}, {12, 768, {1, 33, 100}}, {12, 768, {512}}};
  for (const Shape& sh : shapes) {
    std::vector<index_t> seq_offsets = {0}, att_offsets;
    index_t att_size = 0;
    for (index_t L : sh.lengths) {
      att_offsets.push_back(att_size);
      att_size += sh.n_head * L * L;
      seq_offsets.push_back(seq_offsets.back() + L);
    }
    att_offsets.push_back(att_size);
    const index_t n_seq = static_cast<index_t>(sh.lengths.size()), N = seq_offsets.back();
    INFO("n_head " << sh.n_head << " C " << sh.C << " tokens " << N);
    const auto qkv = random_floats(N * 3 * sh.C, 3000 + static_cast<std::uint64_t>(N));
    const auto dy = random_floats(N * sh.C, 4000 + static_cast<std::uint64_t>(N));
    auto gq = up(qkv);
    auto gdy = up(dy);
    auto gso = up(seq_offsets);
    auto gao = up(att_offsets);
    auto py = up(std::vector<float>(N * sh.C, 1.f));
    auto patt = up(std::vector<float>(att_size, 1.f));
    auto pdq = up(std::vector<float>(N * 3 * sh.C, 1.f));
    auto pds = up(std::vector<float>(att_size, 1.f));
    const PackedOffsets offsets{gso.p(), gao.p(), seq_offsets.data(), att_offsets.data(), n_seq};
    portable::attention_forward(dev, py.p(), patt.p(), gq.p(), offsets, sh.n_head, sh.C);
    portable::attention_backward(dev, pdq.p(), pds.p(), gdy.p(), gq.p(), patt.p(), offsets, sh.n_head, sh.C);
    std::vector<float> first[4];
    for (int run = 0; run < 2; ++run) {
      auto fy = up(std::vector<float>(N * sh.C, 2.f));
      auto fatt = up(std::vector<float>(att_size, 2.f));  // the zeros above the diagonal must be written
      auto fdq = up(std::vector<float>(N * 3 * sh.C, 2.f));
      auto fds = up(std::vector<float>(att_size, 2.f));
      attention_forward(dev, fy.p(), fatt.p(), gq.p(), offsets, sh.n_head, sh.C);
      attention_backward(dev, fdq.p(), fds.p(), gdy.p(), gq.p(), fatt.p(), offsets, sh.n_head, sh.C);
      const std::vector<float> got[4] = {fy.host(), fatt.host(), fdq.host(), fds.host()};
      const char* names[4] = {"attention out", "attention att", "attention dqkv", "attention dS"};
      if (run == 0) {
        const std::vector<float> twin[4] = {py.host(), patt.host(), pdq.host(), pds.host()};
        for (int k = 0; k < 4; ++k) {
          require_close(names[k], got[k], twin[k]);
          first[k] = got[k];
        }
      } else {
        for (int k = 0; k < 4; ++k) require_same_bits(names[k], got[k], first[k]);
      }
    }
  }
}

TEST_CASE("decode attention (warp per new row) matches its portable twin on the GPU", "[cuda][device][fast]") {
  struct Shape {
    index_t n_head, C;
  };
  // head sizes 8, 40 (not a multiple of 32: lanes past the head's channels sit the shuffles out
  // of the sums but not of the warp) and 64 (GPT-2's)
  const Shape shapes[] = {{2, 16}, {3, 120}, {12, 768}};
  // decoding steps with 0, 1, 31, 33, 100 and 511 keys already cached (nothing, <1, >1, >3 and 16
  // warps' worth), and two prefill chunks (40 rows from scratch, 33 rows after 7)
  const std::vector<index_t> n_rows = {1, 1, 1, 1, 1, 1, 40, 33}, past = {0, 1, 31, 33, 100, 511, 0, 7};
  const index_t n_seq = static_cast<index_t>(past.size()), max_len = 512, n_slots = n_seq + 1;
  std::vector<index_t> new_offsets = {0}, slots(n_seq), score_offsets = {0};
  for (const Shape& sh : shapes) {
    new_offsets.assign(1, 0);
    score_offsets.assign(1, 0);
    for (index_t i = 0; i < n_seq; ++i) {
      slots[static_cast<std::size_t>(i)] = n_slots - 1 - i;  // not the identity: slot indexing is exercised
      new_offsets.push_back(new_offsets.back() + n_rows[static_cast<std::size_t>(i)]);
      score_offsets.push_back(score_offsets.back() + sh.n_head * n_rows[static_cast<std::size_t>(i)] *
                                                           (past[static_cast<std::size_t>(i)] + n_rows[static_cast<std::size_t>(i)]));
    }
    const index_t n_new = new_offsets.back(), score_size = score_offsets.back(), C = sh.C;
    INFO("n_head " << sh.n_head << " C " << C);
    const auto qkv = random_floats(n_new * 3 * C, 5000 + static_cast<std::uint64_t>(C));
    const auto kc = random_floats(n_slots * max_len * C, 5100 + static_cast<std::uint64_t>(C));
    const auto vc = random_floats(n_slots * max_len * C, 5200 + static_cast<std::uint64_t>(C));
    auto gq = up(qkv);
    auto gno = up(new_offsets);
    auto gsl = up(slots);
    auto gpa = up(past);
    auto gso = up(score_offsets);
    auto pkc = up(kc);
    auto pvc = up(vc);
    auto py = up(std::vector<float>(n_new * C, 1.f));
    auto ps = up(std::vector<float>(score_size, 1.f));
    portable::attention_decode_forward(dev, py.p(), pkc.p(), pvc.p(), ps.p(), gq.p(), gno.p(), gsl.p(), gpa.p(),
                                       gso.p(), n_seq, n_new, sh.n_head, C, max_len);
    const std::vector<float> twin[4] = {py.host(), ps.host(), pkc.host(), pvc.host()};
    std::vector<float> first[4];
    for (int run = 0; run < 2; ++run) {
      auto fkc = up(kc);
      auto fvc = up(vc);
      auto fy = up(std::vector<float>(n_new * C, 2.f));
      auto fs = up(std::vector<float>(score_size, 2.f));  // the zeros after a row's own position must be written
      attention_decode_forward(dev, fy.p(), fkc.p(), fvc.p(), fs.p(), gq.p(), gno.p(), gsl.p(), gpa.p(), gso.p(),
                               n_seq, n_new, sh.n_head, C, max_len);
      const std::vector<float> got[4] = {fy.host(), fs.host(), fkc.host(), fvc.host()};
      const char* names[4] = {"decode out", "decode scores", "decode key cache", "decode value cache"};
      for (int k = 0; k < 4; ++k) {
        if (run == 0) {
          require_close(names[k], got[k], twin[k]);
          first[k] = got[k];
        } else {
          require_same_bits(names[k], got[k], first[k]);
        }
      }
    }
  }
}

TEST_CASE("uploads queue behind the kernels and land in order, from a reused host buffer", "[cuda][device][upload]") {
  // CudaDevice stages uploads through a pinned ring and queues them (device/staged_upload_ring.hpp):
  // copy_from_host returns before the copy has run. Keep the stream busy with GEMMs so that the
  // uploads below really are queued behind work, then check what landed where.
#if defined(PREFOPT_TEST_SIMT)
  const index_t rows = 16, dim = 16;  // the emulator's reference cuBLAS runs on the host
#else
  const index_t rows = 4096, dim = 1024;
#endif
  auto gx = up(random_floats(static_cast<std::size_t>(rows * dim), 31));
  auto gw = up(random_floats(static_cast<std::size_t>(dim * dim), 32));
  auto gbias = up(random_floats(static_cast<std::size_t>(dim), 33));
  auto gy = up(std::vector<float>(static_cast<std::size_t>(rows * dim)));
  for (int k = 0; k < 8; ++k)
    matmul_forward(dev, gy.p(), gx.p(), gw.p(), gbias.p(), rows, dim, dim, WeightLayout::in_out);

  // A kernel reads `a`, then `a` is overwritten by an upload: the kernel must see the old values.
  const index_t n = 100000;
  const auto a0 = random_floats(n, 34), a1 = random_floats(n, 35), b = random_floats(n, 36);
  auto ga = up(a0);
  auto gb = up(b);
  auto gsum = up(std::vector<float>(n));
  residual_forward(dev, gsum.p(), ga.p(), gb.p(), n);
  dev.copy_from_host(a1.data(), n, ga.p());

  // Sizes from 1 float to 2.5M (10 MB: over half the 16 MiB ring, so a blocking copy), 49 uploads
  // of 86 MB in all (the 1 MB ones wrap the ring), every one from the same host buffer,
  // overwritten as soon as copy_from_host returns; and 64 uploads to one buffer, the last winning.
  const std::size_t sizes[] = {1, 7, 1000, 65536, 262144, 262144, 2500000};
  std::vector<DeviceUnderTest::vector<float>> targets;
  std::vector<float> source;
  for (std::size_t k = 0; k < 49; ++k) {
    const std::size_t size = sizes[k % 7];
    source.resize(size);
    for (std::size_t i = 0; i < size; ++i) source[i] = static_cast<float>(k * 1000003 + i);
    targets.emplace_back(size);
    dev.copy_from_host(source.data(), static_cast<index_t>(size), targets.back().data());
    std::fill(source.begin(), source.end(), -1.f);
  }
  DeviceUnderTest::vector<float> last(4096);
  for (int k = 0; k < 64; ++k) {
    source.assign(4096, static_cast<float>(k));
    dev.copy_from_host(source.data(), 4096, last.data());
    std::fill(source.begin(), source.end(), -1.f);
  }

  std::vector<float> sum(n);
  dev.copy_to_host(gsum.p(), n, sum.data());
  std::size_t wrong = 0;
  for (index_t i = 0; i < n; ++i) wrong += sum[i] != a0[i] + b[i];
  CHECK(wrong == 0);
  CHECK(ga.host() == a1);
  for (std::size_t k = 0; k < targets.size(); ++k) {
    std::vector<float> h(targets[k].size());
    dev.copy_to_host(targets[k].data(), static_cast<index_t>(h.size()), h.data());
    std::size_t bad = 0;
    for (std::size_t i = 0; i < h.size(); ++i) bad += h[i] != static_cast<float>(k * 1000003 + i);
    INFO("upload " << k << " of " << h.size() << " floats");
    CHECK(bad == 0);
  }
  std::vector<float> h(4096);
  dev.copy_to_host(last.data(), 4096, h.data());
  CHECK(std::all_of(h.begin(), h.end(), [](float v) { return v == 63.f; }));
}

int main(int argc, char** argv) {
#if !defined(PREFOPT_TEST_SIMT)
  int n_devices = 0;
  const cudaError_t e = cudaGetDeviceCount(&n_devices);
  if (e != cudaSuccess || n_devices == 0) {
    std::printf("SKIPPED: no CUDA device (%s)\n", e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    return 77;
  }
#endif
  return Catch::Session().run(argc, argv);
}
