// SPDX-License-Identifier: MIT
// Residual connection y = a + b. Its backward passes dy to both inputs; the model keeps one
// residual-stream gradient and lets branches accumulate into it, so it only needs the forward,
// but the backward is part of the kernel set every device implements.
#pragma once

#include "prefopt/device/cpu/cpu_device.hpp"

namespace prefopt::cpu {

/// out (n) = a (n) + b (n). out may alias a or b.
template <class S>
void residual_forward(const CpuDevice&, S* out, const S* a, const S* b, index_t n) {
  PREFOPT_OMP(omp parallel for simd schedule(static))
  for (index_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

/// da (n) += dout, db (n) += dout.
template <class S>
void residual_backward(const CpuDevice&, S* da, S* db, const S* dout, index_t n) {
  PREFOPT_OMP(omp parallel for simd schedule(static))
  for (index_t i = 0; i < n; ++i) {
    da[i] += dout[i];
    db[i] += dout[i];
  }
}

}  // namespace prefopt::cpu
