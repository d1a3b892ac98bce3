// SPDX-License-Identifier: MIT
// The thrust device's row and elementwise kernels: fill, row gather/scatter, residual, GELU,
// embeddings, and the optimizer's kernels (scale, scale_by, sum_of_squares, adamw_update). Same signatures
// and semantics as the CPU device's (device/cpu/*.hpp); each reduction gives one thread one
// output element and a fixed summation order, so results are deterministic.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "prefopt/device/sum_of_squares_order.hpp"
#include "prefopt/device/thrust/thrust_device.hpp"
#include "prefopt/optim/adamw.hpp"

namespace prefopt::thrust_device {

namespace functors {
template <class S>
struct Fill {
  S* dst;
  S value;
  PREFOPT_HOST_DEVICE void operator()(index_t i) const { dst[i] = value; }
};
template <class S>
struct GatherRows {  // one thread per element of out (rows, width)
  S* out;
  const S* inp;
  const index_t* index;
  index_t width;
  PREFOPT_HOST_DEVICE void operator()(index_t k) const {
    const index_t r = k / width, c = k % width;
    out[k] = inp[index[r] * width + c];
  }
};
template <class S>
struct ScatterAddRows {  // indices are distinct: every output element has one writer
  S* out;
  const S* inp;
  const index_t* index;
  index_t width;
  PREFOPT_HOST_DEVICE void operator()(index_t k) const {
    const index_t r = k / width, c = k % width;
    out[index[r] * width + c] += inp[k];
  }
};
template <class S>
struct Add {
  S* out;
  const S* a;
  const S* b;
  PREFOPT_HOST_DEVICE void operator()(index_t i) const { out[i] = a[i] + b[i]; }
};
template <class S>
struct AccumulateTwo {
  S* da;
  S* db;
  const S* dout;
  PREFOPT_HOST_DEVICE void operator()(index_t i) const {
    da[i] += dout[i];
    db[i] += dout[i];
  }
};
// gelu_new (HF GPT-2): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), evaluated as the CPU device does.
template <class S>
struct GeluForward {
  S* out;
  const S* inp;
  PREFOPT_HOST_DEVICE void operator()(index_t i) const {
    const S x = inp[i];
    const S k = static_cast<S>(0.7978845608028654), c = static_cast<S>(0.044715);
    out[i] = static_cast<S>(0.5) * x * (static_cast<S>(1) + std::tanh(k * (x + c * x * x * x)));
  }
};
//   gelu'(x) = 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 c x^2),  t = tanh(k (x + c x^3)).
template <class S>
struct GeluBackward {
  S* dinp;
  const S* dout;
  const S* inp;
  PREFOPT_HOST_DEVICE void operator()(index_t i) const {
    const S x = inp[i];
    const S k = static_cast<S>(0.7978845608028654), c = static_cast<S>(0.044715);
    const S t = std::tanh(k * (x + c * x * x * x));
    const S half = static_cast<S>(0.5), one = static_cast<S>(1), three = static_cast<S>(3);
    const S d = half * (one + t) + half * x * (one - t * t) * k * (one + three * c * x * x);
    dinp[i] = dout[i] * d;
  }
};
template <class S>
struct EmbeddingForward {  // one thread per element of out (n, C)
  S* out;
  const token_t* tokens;
  const token_t* positions;
  const S* wte;
  const S* wpe;
  index_t C;
  PREFOPT_HOST_DEVICE void operator()(index_t k) const {
    const index_t i = k / C, c = k % C;
    out[k] = wte[static_cast<index_t>(tokens[i]) * C + c] + wpe[static_cast<index_t>(positions[i]) * C + c];
  }
};
// Task k·C + c owns column c of every embedding row whose id ≡ k (mod Classes), of wte and of
// wpe alike, and walks the n rows of dout in order: each gradient element is summed by one thread
// in the CPU device's order (bit-identical to it), with no atomics, and Classes × C threads share
// the work instead of C. Consecutive tasks are consecutive columns: coalesced, and a warp agrees
// on every branch. Classes is a compile-time constant so that the two residues per row are a
// mask or a multiply (64 on CUDA), or nothing at all (1), rather than 64-bit divisions.
template <class S, index_t Classes>
struct EmbeddingBackward {
  static_assert(Classes >= 1, "EmbeddingBackward: at least one id class");
  S* dwte;
  S* dwpe;
  const S* dout;
  const token_t* tokens;
  const token_t* positions;
  index_t n, C;
  PREFOPT_HOST_DEVICE void operator()(index_t task) const {
    constexpr auto classes = static_cast<std::uint64_t>(Classes);
    const index_t c = task % C;
    const auto k = static_cast<std::uint64_t>(task / C);
    for (index_t i = 0; i < n; ++i) {
      const auto tok = static_cast<std::uint64_t>(tokens[i]), pos = static_cast<std::uint64_t>(positions[i]);
      const bool to_wte = tok % classes == k, to_wpe = pos % classes == k;
      if (!to_wte && !to_wpe) continue;
      const S g = dout[i * C + c];
      if (to_wte) dwte[static_cast<index_t>(tok) * C + c] += g;
      if (to_wpe) dwpe[static_cast<index_t>(pos) * C + c] += g;
    }
  }
};
template <class S>
struct Scale {
  S* x;
  S factor;
  PREFOPT_HOST_DEVICE void operator()(index_t i) const { x[i] *= factor; }
};
// Step 1 of the one order of Σ x² (device/sum_of_squares_order.hpp): one thread per chunk.
template <class S>
struct SumOfSquaresChunk {
  const S* x;
  double* partial;
  index_t n;
  PREFOPT_HOST_DEVICE void operator()(index_t c) const { partial[c] = sum_of_squares_chunk_partial(x, n, c); }
};
template <class S>
struct ScaleBy {  // x *= *factor; every thread reads the one factor (a broadcast load)
  S* x;
  const double* factor;
  PREFOPT_HOST_DEVICE void operator()(index_t i) const {
    const S f = static_cast<S>(*factor);
    if (f != S(1)) x[i] *= f;
  }
};
// torch.optim.AdamW's single-tensor update in S, as the CPU device computes it (fma where
// PyTorch's CPU kernels fuse; docs/optimizer.md).
template <class S>
struct AdamW {
  S* w;
  const S* g;
  S* m;
  S* v;
  S decay, beta1, one_minus_beta1, beta2, one_minus_beta2, bias_correction2_sqrt, eps, neg_step_size;
  bool decays;
  const std::int32_t* proceed;  // nullptr, or the step's go/no-go flag in device memory
  PREFOPT_HOST_DEVICE void operator()(index_t i) const {
    if (proceed != nullptr && *proceed == 0) return;
    S wi = w[i];
    if (decays) {
      volatile S decayed = wi * decay;  // rounded on its own, as PyTorch's separate mul_
      wi = decayed;
    }
    const S gi = g[i];
    const S mi = std::fma(gi, one_minus_beta1, m[i] * beta1);
    const S vi = std::fma(one_minus_beta2 * gi, gi, v[i] * beta2);
    m[i] = mi;
    v[i] = vi;
    const S denom = std::sqrt(vi) / bias_correction2_sqrt + eps;
    w[i] = wi + (neg_step_size * mi) / denom;
  }
};
}  // namespace functors

/// dst[0:n] = value.
template <class Traits, class S>
void fill(const ThrustDevice<Traits>& d, S* dst, index_t n, S value) {
  for_each_index(d, n, functors::Fill<S>{dst, value});
}

/// out (rows, width) = inp[index[r], :].
template <class Traits, class S>
void gather_rows(const ThrustDevice<Traits>& d, S* out, const S* inp, const index_t* index, index_t rows, index_t width) {
  for_each_index(d, rows * width, functors::GatherRows<S>{out, inp, index, width});
}

/// out[index[r], :] += inp[r, :] (+=); indices distinct.
template <class Traits, class S>
void scatter_add_rows(const ThrustDevice<Traits>& d, S* out, const S* inp, const index_t* index, index_t rows,
                      index_t width) {
  for_each_index(d, rows * width, functors::ScatterAddRows<S>{out, inp, index, width});
}

/// out (n) = a + b; out may alias a or b.
template <class Traits, class S>
void residual_forward(const ThrustDevice<Traits>& d, S* out, const S* a, const S* b, index_t n) {
  for_each_index(d, n, functors::Add<S>{out, a, b});
}
/// da += dout, db += dout.
template <class Traits, class S>
void residual_backward(const ThrustDevice<Traits>& d, S* da, S* db, const S* dout, index_t n) {
  for_each_index(d, n, functors::AccumulateTwo<S>{da, db, dout});
}

/// out (n) = gelu_new(inp); out may alias inp.
template <class Traits, class S>
void gelu_forward(const ThrustDevice<Traits>& d, S* out, const S* inp, index_t n) {
  for_each_index(d, n, functors::GeluForward<S>{out, inp});
}
/// dinp (n) = dout * gelu'(inp) (=); dinp may alias dout.
template <class Traits, class S>
void gelu_backward(const ThrustDevice<Traits>& d, S* dinp, const S* dout, const S* inp, index_t n) {
  for_each_index(d, n, functors::GeluBackward<S>{dinp, dout, inp});
}

/// out (n, C) = wte[tokens[i]] + wpe[positions[i]].
template <class Traits, class S>
void embedding_forward(const ThrustDevice<Traits>& d, S* out, const token_t* tokens, const token_t* positions,
                       const S* wte, const S* wpe, index_t n, index_t C) {
  for_each_index(d, n * C, functors::EmbeddingForward<S>{out, tokens, positions, wte, wpe, C});
}
namespace portable {
/// dwte[tokens[i]] += dout[i], dwpe[positions[i]] += dout[i] (+=), the ids split into `Classes`
/// residue classes (functors::EmbeddingBackward); every choice gives the same bits.
template <index_t Classes, class Traits, class S>
void embedding_backward(const ThrustDevice<Traits>& d, S* dwte, S* dwpe, const S* dout, const token_t* tokens,
                        const token_t* positions, index_t n, index_t C) {
  for_each_index(d, Classes * C, functors::EmbeddingBackward<S, Classes>{dwte, dwpe, dout, tokens, positions, n, C});
}
}  // namespace portable

/// dwte[tokens[i]] += dout[i], dwpe[positions[i]] += dout[i] (+=), with the system's number of
/// id classes (Traits::embedding_classes: 1 for a few CPU threads, many for a GPU's thousands).
template <class Traits, class S>
void embedding_backward(const ThrustDevice<Traits>& d, S* dwte, S* dwpe, const S* dout, const token_t* tokens,
                        const token_t* positions, index_t n, index_t C) {
  portable::embedding_backward<Traits::embedding_classes>(d, dwte, dwpe, dout, tokens, positions, n, C);
}

/// x (n) *= factor.
template <class Traits, class S>
void scale(const ThrustDevice<Traits>& d, S* x, index_t n, S factor) {
  for_each_index(d, n, functors::Scale<S>{x, factor});
}

/// x (n) *= *factor, the factor in device memory (optim/grad_clip.hpp's coefficient); a factor
/// of 1 changes nothing.
template <class Traits, class S>
void scale_by(const ThrustDevice<Traits>& d, S* x, index_t n, const double* factor) {
  for_each_index(d, n, functors::ScaleBy<S>{x, factor});
}

/// partials (sum_of_squares_chunks(n)) = the chunk partials of Σ x² (device/sum_of_squares_order.hpp).
template <class Traits, class S>
void sum_of_squares_partials(const ThrustDevice<Traits>& d, const S* x, index_t n, double* partials) {
  for_each_index(d, sum_of_squares_chunks(n), functors::SumOfSquaresChunk<S>{x, partials, n});
}

/// Σ x², in double, bit-identical to the CPU device's (device/sum_of_squares_order.hpp); the
/// partials come to the host and are added there. The trainer keeps the norm on the device
/// instead (optim/grad_clip.hpp).
template <class Traits, class S>
double sum_of_squares(const ThrustDevice<Traits>& d, const S* x, index_t n) {
  const index_t n_chunks = sum_of_squares_chunks(n);
  if (n_chunks == 0) return 0.0;
  typename ThrustDevice<Traits>::template vector<double> partial(static_cast<std::size_t>(n_chunks));
  sum_of_squares_partials(d, x, n, partial.data());
  std::vector<double> host(static_cast<std::size_t>(n_chunks));
  d.copy_to_host(partial.data(), n_chunks, host.data());
  return sum_of_squares_from_partials(host.data(), n_chunks);
}

/// torch.optim.AdamW (foreach=False) on one parameter range (optim/adamw.hpp, docs/optimizer.md).
template <class Traits, class S>
void adamw_update(const ThrustDevice<Traits>& d, S* params, const S* grads, S* exp_avg, S* exp_avg_sq, index_t n,
                  const AdamWStepParams& p) {
  const double bias_correction1 = 1.0 - std::pow(p.beta1, static_cast<double>(p.step));
  const double bias_correction2 = 1.0 - std::pow(p.beta2, static_cast<double>(p.step));
  const double step_size = p.lr / bias_correction1;
  volatile double lr_wd = p.lr * p.weight_decay;  // rounded before the subtraction, as Python does
  const S decay = static_cast<S>(1.0 - lr_wd);
  functors::AdamW<S> f{params,
                       grads,
                       exp_avg,
                       exp_avg_sq,
                       decay,
                       static_cast<S>(p.beta1),
                       static_cast<S>(1.0 - p.beta1),
                       static_cast<S>(p.beta2),
                       static_cast<S>(1.0 - p.beta2),
                       static_cast<S>(std::sqrt(bias_correction2)),
                       static_cast<S>(p.eps),
                       static_cast<S>(-step_size),
                       decay != S(1),
                       p.proceed};
  for_each_index(d, n, f);
}

}  // namespace prefopt::thrust_device
