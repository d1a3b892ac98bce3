// SPDX-License-Identifier: MIT
// GELU, tanh approximation ("gelu_new" in Hugging Face, GPT-2's activation; Hendrycks & Gimpel
// 2016, eq. in §2): gelu(x) = 0.5 x (1 + tanh(k (x + 0.044715 x^3))), k = sqrt(2/pi).
// Evaluated with Eigen array expressions so tanh is vectorised.
#pragma once

#include "prefopt/device/cpu/cpu_device.hpp"

namespace prefopt::cpu {
namespace detail {
inline constexpr double gelu_k = 0.7978845608028654;  // sqrt(2 / pi)
inline constexpr double gelu_c = 0.044715;
}  // namespace detail

/// out (n) = gelu(inp (n)). out may alias inp.
template <class S>
void gelu_forward(const CpuDevice&, S* out, const S* inp, index_t n) {
  const S k = static_cast<S>(detail::gelu_k), c = static_cast<S>(detail::gelu_c);
  parallel_chunks(n, [&](index_t begin, index_t len) {
    ConstArrayMap<S> x(inp + begin, len);
    ArrayMap<S> y(out + begin, len);
    y = S(0.5) * x * (S(1) + (k * (x + c * x.cube())).tanh());
  });
}

/// dinp (n) = dout (n) * gelu'(inp)  (=). dinp may alias dout.
///   gelu'(x) = 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 c x^2),  t = tanh(k (x + c x^3)).
template <class S>
void gelu_backward(const CpuDevice&, S* dinp, const S* dout, const S* inp, index_t n) {
  const S k = static_cast<S>(detail::gelu_k), c = static_cast<S>(detail::gelu_c);
  parallel_chunks(n, [&](index_t begin, index_t len) {
    ConstArrayMap<S> x(inp + begin, len);
    ConstArrayMap<S> dy(dout + begin, len);
    ArrayMap<S> dx(dinp + begin, len);
    const auto t = (k * (x + c * x.cube())).tanh().eval();
    dx = dy * (S(0.5) * (S(1) + t) + S(0.5) * x * (S(1) - t.square()) * k * (S(1) + S(3) * c * x.square()));
  });
}

}  // namespace prefopt::cpu
