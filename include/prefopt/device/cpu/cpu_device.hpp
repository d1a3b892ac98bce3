// SPDX-License-Identifier: MIT
// CpuDevice: host memory and the Eigen/OpenMP kernel set. Kernels are free functions in
// namespace prefopt::cpu taking the device first (found by ADL from the model), then outputs,
// inputs and sizes, llm.c's order. Backward kernels state per output whether they write (=) or
// accumulate (+=); parameter gradients always accumulate.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cstring>
#include <vector>

#include "prefopt/core/config.hpp"
#include "prefopt/core/types.hpp"

namespace prefopt::cpu {

/// Contiguous host storage aligned for Eigen's widest packets (64 bytes with AVX-512).
template <class T>
using AlignedVector = std::vector<T, Eigen::aligned_allocator<T>>;

struct CpuDevice {
  static constexpr const char* name = "cpu";
  static constexpr bool host_accessible = true;  // kernels and tests may read buffers directly
  template <class T>
  using vector = AlignedVector<T>;

  void synchronize() const noexcept {}

  template <class T>
  void copy_to_host(const T* src, index_t n, T* dst) const {
    if (n > 0) std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(T));
  }
  template <class T>
  void copy_from_host(const T* src, index_t n, T* dst) const {
    if (n > 0) std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(T));
  }
};

// Row-major Eigen views over raw buffers; every matrix in prefopt is row-major like PyTorch's.
template <class S>
using RowMatrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class S>
using MatrixMap = Eigen::Map<RowMatrix<S>>;
template <class S>
using ConstMatrixMap = Eigen::Map<const RowMatrix<S>>;
template <class S>
using StridedMap = Eigen::Map<RowMatrix<S>, 0, Eigen::OuterStride<>>;
template <class S>
using ConstStridedMap = Eigen::Map<const RowMatrix<S>, 0, Eigen::OuterStride<>>;
template <class S>
using ArrayMap = Eigen::Map<Eigen::Array<S, Eigen::Dynamic, 1>>;
template <class S>
using ConstArrayMap = Eigen::Map<const Eigen::Array<S, Eigen::Dynamic, 1>>;

/// Runs f(i) for i in [0, n) in order on the calling thread — the CPU device's form of the thrust
/// devices' for_each_index, for small per-item work such as the per-pair loss
/// (train/pair_loss_kernel.hpp), where the order stays the host's and an exception reaches the caller.
template <class F>
void for_each_index(const CpuDevice&, index_t n, F&& f) {
  for (index_t i = 0; i < n; ++i) f(i);
}

/// Calls fn(c0, c1) for column blocks [c0, c1) of [0, channels), spread over OpenMP threads.
/// Reductions over rows that write per-column results (bias, LayerNorm and embedding gradients)
/// use it with the row loop inside fn: each column sums its rows in order, so the result is bit
/// for bit the same for any number of threads.
template <class Fn>
void parallel_column_blocks(index_t channels, Fn&& fn) {
  constexpr index_t block = 64;
  const index_t n_blocks = (channels + block - 1) / block;
  PREFOPT_OMP(omp parallel for schedule(static))
  for (index_t b = 0; b < n_blocks; ++b) fn(b * block, std::min(channels, (b + 1) * block));
}

/// Calls fn(begin, length) for chunks of [0, n), spread over OpenMP threads (elementwise work).
template <class Fn>
void parallel_chunks(index_t n, Fn&& fn) {
  constexpr index_t chunk = 4096;
  const index_t n_chunks = (n + chunk - 1) / chunk;
  PREFOPT_OMP(omp parallel for schedule(static))
  for (index_t i = 0; i < n_chunks; ++i) fn(i * chunk, std::min(chunk, n - i * chunk));
}

/// dst[0:n] = value.
template <class S>
void fill(const CpuDevice&, S* dst, index_t n, S value) {
  std::fill(dst, dst + n, value);
}

/// out (rows, width) = inp[index[r], :] for r < rows.
template <class S>
void gather_rows(const CpuDevice&, S* out, const S* inp, const index_t* index, index_t rows,
                 index_t width) {
  PREFOPT_OMP(omp parallel for schedule(static))
  for (index_t r = 0; r < rows; ++r)
    std::memcpy(out + r * width, inp + index[r] * width, static_cast<std::size_t>(width) * sizeof(S));
}

/// out[index[r], :] += inp[r, :] for r < rows (+=). Indices must be distinct, which makes the
/// rows independent and the result deterministic under any thread count.
template <class S>
void scatter_add_rows(const CpuDevice&, S* out, const S* inp, const index_t* index, index_t rows,
                      index_t width) {
  PREFOPT_OMP(omp parallel for schedule(static))
  for (index_t r = 0; r < rows; ++r) {
    S* o = out + index[r] * width;
    const S* x = inp + r * width;
    for (index_t c = 0; c < width; ++c) o[c] += x[c];
  }
}

}  // namespace prefopt::cpu
