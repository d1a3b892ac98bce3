// SPDX-License-Identifier: MIT
// CudaDevice's LayerNorm (nvcc, or the tests' SIMT emulator): one warp per row for the row
// statistics and the input gradient — lanes stride the row (coalesced), warp_sum (reduce.hpp)
// closes each sum in a fixed butterfly — and a deterministic two-pass column reduction for the
// parameter gradients: pass 1 gives one thread per (channel, chunk of `ln_rows_per_chunk` rows) the
// chunk's sum in row order, pass 2 one thread per channel adding the chunks in chunk order onto
// dweight/dbias (column_sum.hpp's second pass, shared with the bias gradient). Same arithmetic as
// the portable twin (device/thrust/layernorm.hpp: two-pass variance, the same gradient formula),
// different summation order: agreement to rounding (cuda_device_test.cu).
#pragma once

#include "prefopt/device/cuda/column_sum.hpp"
#include "prefopt/device/cuda/reduce.hpp"

namespace prefopt::thrust_device::cuda_kernels {

constexpr int ln_threads = 256;                               // 8 warps, 8 rows per block
constexpr index_t ln_rows_per_chunk = colsum_rows_per_chunk;  // the chunks of column_sum.hpp's pass 2

template <class S>
__global__ void __launch_bounds__(ln_threads)
    layernorm_forward_kernel(S* out, S* mean, S* rstd, const S* inp, const S* weight, const S* bias, index_t rows,
                             index_t C, S eps) {
  const index_t r = static_cast<index_t>(blockIdx.x) * (ln_threads / warp_size) + threadIdx.x / warp_size;
  if (r >= rows) return;  // whole warps leave together: the shuffles below see full warps
  const int lane = threadIdx.x % warp_size;
  const S* x = inp + r * C;
  S* y = out + r * C;
  S m = 0;
  for (index_t c = lane; c < C; c += warp_size) m += x[c];
  m = warp_sum(m) / static_cast<S>(C);
  S v = 0;  // two passes, as the portable twin: no cancellation from E[x^2] - E[x]^2
  for (index_t c = lane; c < C; c += warp_size) {
    const S d = x[c] - m;
    v += d * d;
  }
  v = warp_sum(v) / static_cast<S>(C);
  const S s = S(1) / std::sqrt(v + eps);
  for (index_t c = lane; c < C; c += warp_size) y[c] = (x[c] - m) * s * weight[c] + bias[c];
  if (lane == 0) {
    mean[r] = m;
    rstd[r] = s;
  }
}

template <class S>
__global__ void __launch_bounds__(ln_threads)
    layernorm_backward_input_kernel(S* dinp, const S* dout, const S* inp, const S* weight, const S* mean, const S* rstd,
                                    index_t rows, index_t C) {
  const index_t r = static_cast<index_t>(blockIdx.x) * (ln_threads / warp_size) + threadIdx.x / warp_size;
  if (r >= rows) return;
  const int lane = threadIdx.x % warp_size;
  const S* dy = dout + r * C;
  const S* x = inp + r * C;
  const S m = mean[r], s = rstd[r];
  S g_mean = 0, gx_mean = 0;
  for (index_t c = lane; c < C; c += warp_size) {
    const S g = dy[c] * weight[c];
    g_mean += g;
    gx_mean += g * (x[c] - m) * s;
  }
  g_mean = warp_sum(g_mean) / static_cast<S>(C);
  gx_mean = warp_sum(gx_mean) / static_cast<S>(C);
  S* dx = dinp + r * C;
  for (index_t c = lane; c < C; c += warp_size) {
    const S xhat = (x[c] - m) * s;
    dx[c] += s * (dy[c] * weight[c] - g_mean - xhat * gx_mean);
  }
}

// Pass 1: partial_w/partial_b (chunks, C); thread (c, chunk) sums its chunk's rows in order.
template <class S>
__global__ void layernorm_param_partials_kernel(S* partial_w, S* partial_b, const S* dout, const S* inp, const S* mean,
                                                const S* rstd, index_t rows, index_t C) {
  const index_t c = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const index_t chunk = blockIdx.y;
  if (c >= C) return;
  const index_t r0 = chunk * ln_rows_per_chunk;
  const index_t r1 = r0 + ln_rows_per_chunk < rows ? r0 + ln_rows_per_chunk : rows;
  S dw = 0, db = 0;
  for (index_t r = r0; r < r1; ++r) {  // consecutive threads read consecutive channels: coalesced
    const S dy = dout[r * C + c];
    dw += dy * (inp[r * C + c] - mean[r]) * rstd[r];
    db += dy;
  }
  partial_w[chunk * C + c] = dw;
  partial_b[chunk * C + c] = db;
}

template <class S>
void layernorm_forward(S* out, S* mean, S* rstd, const S* inp, const S* weight, const S* bias, index_t rows, index_t C,
                       S eps) {
  if (rows <= 0 || C <= 0) return;
  launch(layernorm_forward_kernel<S>, grid_size(rows, ln_threads / warp_size), ln_threads, out, mean, rstd, inp, weight,
         bias, rows, C, eps);
}

template <class S>
void layernorm_backward(S* dinp, S* dweight, S* dbias, const S* dout, const S* inp, const S* weight, const S* mean,
                        const S* rstd, index_t rows, index_t C) {
  if (rows <= 0 || C <= 0) return;
  launch(layernorm_backward_input_kernel<S>, grid_size(rows, ln_threads / warp_size), ln_threads, dinp, dout, inp,
         weight, mean, rstd, rows, C);
  const index_t chunks = (rows + ln_rows_per_chunk - 1) / ln_rows_per_chunk;
  // chunks <= 65535 (grid.y): rows <= 2,097,120 per call, far above any micro-batch.
  if (chunks > 65535) throw ArgumentError("layernorm_backward: too many rows for one call");
  S* partial = static_cast<S*>(scratch(static_cast<std::size_t>(2 * chunks * C) * sizeof(S)));
  const dim3 grid(grid_size(C, 128), static_cast<unsigned>(chunks));
  launch(layernorm_param_partials_kernel<S>, grid, 128, partial, partial + chunks * C, dout, inp, mean, rstd, rows, C);
  // Pass 2 (column_sum.hpp): dweight[c] += Σ_chunk partial_w[chunk, c], chunks in order; dbias alike.
  launch(column_sum_accumulate_kernel<S>, grid_size(C, colsum_threads), colsum_threads, dweight, partial, chunks, C);
  launch(column_sum_accumulate_kernel<S>, grid_size(C, colsum_threads), colsum_threads, dbias, partial + chunks * C,
         chunks, C);
}

}  // namespace prefopt::thrust_device::cuda_kernels
