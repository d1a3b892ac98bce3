// SPDX-License-Identifier: MIT
// GPT-2's input: token embedding plus learned position embedding.
#pragma once

#include "prefopt/device/cpu/cpu_device.hpp"

namespace prefopt::cpu {

/// out (n, C) = wte[tokens[i]] + wpe[positions[i]]. Ids are validated by the caller.
template <class S>
void embedding_forward(const CpuDevice&, S* out, const token_t* tokens, const token_t* positions,
                       const S* wte, const S* wpe, index_t n, index_t channels) {
  PREFOPT_OMP(omp parallel for schedule(static))
  for (index_t i = 0; i < n; ++i) {
    const S* t = wte + static_cast<index_t>(tokens[i]) * channels;
    const S* p = wpe + static_cast<index_t>(positions[i]) * channels;
    S* o = out + i * channels;
    for (index_t c = 0; c < channels; ++c) o[c] = t[c] + p[c];
  }
}

/// dwte[tokens[i]] += dout[i], dwpe[positions[i]] += dout[i]  (+=).
/// Repeated ids make rows collide, so threads own column blocks and walk all rows in order.
template <class S>
void embedding_backward(const CpuDevice&, S* dwte, S* dwpe, const S* dout, const token_t* tokens,
                        const token_t* positions, index_t n, index_t channels) {
  parallel_column_blocks(channels, [&](index_t c0, index_t c1) {
    for (index_t i = 0; i < n; ++i) {
      const S* d = dout + i * channels;
      S* t = dwte + static_cast<index_t>(tokens[i]) * channels;
      S* p = dwpe + static_cast<index_t>(positions[i]) * channels;
      for (index_t c = c0; c < c1; ++c) {
        t[c] += d[c];
        p[c] += d[c];
      }
    }
  });
}

}  // namespace prefopt::cpu
