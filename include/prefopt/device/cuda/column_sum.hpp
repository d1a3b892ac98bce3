// SPDX-License-Identifier: MIT
// Column sums for CudaDevice (nvcc, or the tests' SIMT emulator): out[c] += Σ_r in[r, c] over a
// row-major (rows, cols) matrix — the dense layers' bias gradient. The portable form gives one
// thread per column walking every row (cols threads: 768 for GPT-2's projections, far too few to
// fill a GPU); this is a deterministic two-pass scheme, whose second pass the LayerNorm parameter
// gradients share (device/cuda/layernorm.hpp computes its own pass-1 partials): pass 1 gives one
// thread per (column, chunk of `colsum_rows_per_chunk` rows) the chunk's sum in row order
// (consecutive threads, consecutive columns: coalesced), pass 2 one thread per column adding the
// chunks in chunk order onto out. Fixed order, no atomics: the same result every run.
#pragma once

#include "prefopt/device/cuda/reduce.hpp"

namespace prefopt::thrust_device::cuda_kernels {

constexpr index_t colsum_rows_per_chunk = 32;
constexpr int colsum_threads = 128;

template <class S>
__global__ void column_partials_kernel(S* partial, const S* in, index_t rows, index_t cols) {
  const index_t c = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const index_t chunk = blockIdx.y;
  if (c >= cols) return;
  const index_t r0 = chunk * colsum_rows_per_chunk;
  const index_t r1 = r0 + colsum_rows_per_chunk < rows ? r0 + colsum_rows_per_chunk : rows;
  S acc = 0;
  for (index_t r = r0; r < r1; ++r) acc += in[r * cols + c];
  partial[chunk * cols + c] = acc;
}

template <class S>
__global__ void column_sum_accumulate_kernel(S* out, const S* partial, index_t chunks, index_t cols) {
  const index_t c = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= cols) return;
  S acc = 0;
  for (index_t k = 0; k < chunks; ++k) acc += partial[k * cols + c];
  out[c] += acc;
}

/// out (cols) += column sums of in (rows, cols), row-major.
template <class S>
void column_sums_accumulate(S* out, const S* in, index_t rows, index_t cols) {
  if (rows <= 0 || cols <= 0) return;
  const index_t chunks = (rows + colsum_rows_per_chunk - 1) / colsum_rows_per_chunk;
  if (chunks > 65535) throw ArgumentError("column_sums_accumulate: too many rows for one call (grid.y)");
  S* partial = static_cast<S*>(scratch(static_cast<std::size_t>(chunks * cols) * sizeof(S)));
  const dim3 grid(grid_size(cols, colsum_threads), static_cast<unsigned>(chunks));
  launch(column_partials_kernel<S>, grid, colsum_threads, partial, in, rows, cols);
  launch(column_sum_accumulate_kernel<S>, grid_size(cols, colsum_threads), colsum_threads, out, partial, chunks, cols);
}

}  // namespace prefopt::thrust_device::cuda_kernels
