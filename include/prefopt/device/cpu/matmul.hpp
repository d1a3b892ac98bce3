// SPDX-License-Identifier: MIT
// Dense layers as Eigen GEMMs on mapped row-major buffers (Eigen parallelises the GEMM itself).
//   WeightLayout::in_out: weight (in, out), y = x W + b        (Hugging Face Conv1D)
//   WeightLayout::out_in: weight (out, in), y = x W^T + b      (torch Linear; GPT-2's tied lm_head = wte)
#pragma once

#include "prefopt/core/types.hpp"
#include "prefopt/device/cpu/cpu_device.hpp"

namespace prefopt::cpu {

/// out (rows, out_dim) = inp (rows, in_dim) · W + bias (out_dim). bias may be null.
template <class S>
void matmul_forward(const CpuDevice&, S* out, const S* inp, const S* weight, const S* bias,
                    index_t rows, index_t in_dim, index_t out_dim, WeightLayout layout) {
  MatrixMap<S> y(out, rows, out_dim);
  ConstMatrixMap<S> x(inp, rows, in_dim);
  if (layout == WeightLayout::in_out)
    y.noalias() = x * ConstMatrixMap<S>(weight, in_dim, out_dim);
  else
    y.noalias() = x * ConstMatrixMap<S>(weight, out_dim, in_dim).transpose();
  if (bias) {
    Eigen::Map<const Eigen::Matrix<S, 1, Eigen::Dynamic>> b(bias, out_dim);
    PREFOPT_OMP(omp parallel for schedule(static))
    for (index_t r = 0; r < rows; ++r) y.row(r) += b;
  }
}

/// Backward of matmul_forward.
///   dinp (rows, in_dim)   =  dout · W^T          (skipped when dinp is null)
///   dweight (layout)      += gradient of W
///   dbias (out_dim)       += column sums of dout (skipped when null)
template <class S>
void matmul_backward(const CpuDevice&, S* dinp, S* dweight, S* dbias, const S* dout,
                     const S* inp, const S* weight, index_t rows, index_t in_dim, index_t out_dim,
                     WeightLayout layout) {
  ConstMatrixMap<S> dy(dout, rows, out_dim);
  ConstMatrixMap<S> x(inp, rows, in_dim);
  if (layout == WeightLayout::in_out) {
    if (dinp) MatrixMap<S>(dinp, rows, in_dim).noalias() = dy * ConstMatrixMap<S>(weight, in_dim, out_dim).transpose();
    MatrixMap<S>(dweight, in_dim, out_dim).noalias() += x.transpose() * dy;
  } else {
    if (dinp) MatrixMap<S>(dinp, rows, in_dim).noalias() = dy * ConstMatrixMap<S>(weight, out_dim, in_dim);
    MatrixMap<S>(dweight, out_dim, in_dim).noalias() += dy.transpose() * x;
  }
  if (dbias) {
    parallel_column_blocks(out_dim, [&](index_t c0, index_t c1) {
      for (index_t r = 0; r < rows; ++r) {
        const S* d = dout + r * out_dim;
        for (index_t c = c0; c < c1; ++c) dbias[c] += d[c];
      }
    });
  }
}

}  // namespace prefopt::cpu
