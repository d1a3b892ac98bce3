// SPDX-License-Identifier: MIT
// The thrust device's dense layers: the GEMM itself belongs to the system (cuBLAS on CUDA, Eigen
// on the OpenMP twin, whose memory is host memory), so these forward to Traits; shapes and the
// WeightLayout conventions are the CPU device's (device/cpu/matmul.hpp):
//   forward:  out (rows, out_dim) = inp (rows, in_dim) · W + bias (bias may be null)
//   backward: dinp = dout · Wᵀ (=; skipped when null), dweight += inpᵀ · dout, dbias += column sums
#pragma once

#include "prefopt/core/types.hpp"
#include "prefopt/device/thrust/thrust_device.hpp"

namespace prefopt::thrust_device {

template <class Traits, class S>
void matmul_forward(const ThrustDevice<Traits>&, S* out, const S* inp, const S* weight, const S* bias, index_t rows,
                    index_t in_dim, index_t out_dim, WeightLayout layout) {
  Traits::matmul_forward(out, inp, weight, bias, rows, in_dim, out_dim, layout);
}

template <class Traits, class S>
void matmul_backward(const ThrustDevice<Traits>&, S* dinp, S* dweight, S* dbias, const S* dout, const S* inp,
                     const S* weight, index_t rows, index_t in_dim, index_t out_dim, WeightLayout layout) {
  Traits::matmul_backward(dinp, dweight, dbias, dout, inp, weight, rows, in_dim, out_dim, layout);
}

}  // namespace prefopt::thrust_device
