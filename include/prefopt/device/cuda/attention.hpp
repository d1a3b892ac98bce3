// SPDX-License-Identifier: MIT
// CudaDevice's row kernels of the causal attention (nvcc, or the tests' SIMT emulator). The
// attention itself is the thrust device's GEMM form (device/thrust/attention.hpp: scores, output
// and every gradient product are cuBLAS strided-batched GEMMs over the heads of a sequence); what
// is left between the GEMMs is one pass over each (token row, head) of the (L, L) blocks, done here
// with one warp per row instead of the portable twin's one thread: lanes stride the row's keys j
// (coalesced), warp_max / warp_sum (reduce.hpp) close the row's max, normaliser and Σ P·dP in a
// fixed butterfly. Buffers and conventions are the portable twin's. Deterministic; equal to the
// portable twin to rounding.
#pragma once

#include "prefopt/device/cuda/reduce.hpp"
#include "prefopt/device/thrust/attention.hpp"

namespace prefopt::thrust_device::cuda_kernels {

constexpr int att_threads = 128;  // 4 warps, 4 (row, head) tasks per block

// One warp's softmax of a score row of length L over its first `seen` entries, in place:
// p_j = exp(p_j − max) / Σ, j < seen, and p_j = 0 for seen <= j < L. Lanes stride j, and each lane
// reads and rewrites only its own entries (j ≡ lane mod 32), so no lane reads another's writes.
template <class S>
__device__ __forceinline__ void warp_causal_softmax_row(S* p, index_t seen, index_t L, int lane) {
  S mx = -INFINITY;
  for (index_t j = lane; j < seen; j += warp_size) mx = p[j] > mx ? p[j] : mx;
  mx = warp_max(mx);
  S sum = 0;
  for (index_t j = lane; j < seen; j += warp_size) {
    const S e = std::exp(p[j] - mx);
    p[j] = e;
    sum += e;
  }
  sum = warp_sum(sum);
  for (index_t j = lane; j < seen; j += warp_size) p[j] /= sum;
  for (index_t j = seen + lane; j < L; j += warp_size) p[j] = 0;
}

// P_ij = exp(S_ij − max_j S_ij) / Σ_j, j <= i, in place; zero above the diagonal.
template <class S>
__global__ void __launch_bounds__(att_threads)
    causal_softmax_forward_kernel(S* att, const index_t* seq_offsets, const index_t* att_offsets, index_t n_seq,
                                  index_t n_head, index_t tasks) {
  const index_t task = static_cast<index_t>(blockIdx.x) * (att_threads / warp_size) + threadIdx.x / warp_size;
  if (task >= tasks) return;  // whole warps leave together: the shuffles below see full warps
  const int lane = threadIdx.x % warp_size;
  const functors::AttentionTask t = functors::attention_task(seq_offsets, att_offsets, n_seq, n_head, task);
  const index_t L = t.L, i = t.i;
  warp_causal_softmax_row(att + t.row, i + 1, L, lane);
}

// dS_ij = P_ij (dP_ij − Σ_k P_ik dP_ik), j <= i, in place over dP; zero above the diagonal.
template <class S>
__global__ void __launch_bounds__(att_threads)
    causal_softmax_backward_kernel(S* datt, const S* att, const index_t* seq_offsets, const index_t* att_offsets,
                                   index_t n_seq, index_t n_head, index_t tasks) {
  const index_t task = static_cast<index_t>(blockIdx.x) * (att_threads / warp_size) + threadIdx.x / warp_size;
  if (task >= tasks) return;
  const int lane = threadIdx.x % warp_size;
  const functors::AttentionTask t = functors::attention_task(seq_offsets, att_offsets, n_seq, n_head, task);
  const index_t L = t.L, i = t.i;
  const S* p = att + t.row;
  S* ds = datt + t.row;
  S dot = 0;
  for (index_t j = lane; j <= i; j += warp_size) dot += p[j] * ds[j];
  dot = warp_sum(dot);
  for (index_t j = lane; j <= i; j += warp_size) ds[j] = p[j] * (ds[j] - dot);
  for (index_t j = i + 1 + lane; j < L; j += warp_size) ds[j] = 0;
}

/// n_tokens is the packed batch's total (seq_offsets[n_seq], known to the caller).
template <class S>
void causal_softmax_forward(S* att, const index_t* seq_offsets, const index_t* att_offsets, index_t n_seq,
                            index_t n_head, index_t n_tokens) {
  const index_t tasks = n_tokens * n_head;
  if (n_seq <= 0 || tasks <= 0) return;
  launch(causal_softmax_forward_kernel<S>, grid_size(tasks, att_threads / warp_size), att_threads, att, seq_offsets,
         att_offsets, n_seq, n_head, tasks);
}

template <class S>
void causal_softmax_backward(S* datt, const S* att, const index_t* seq_offsets, const index_t* att_offsets,
                             index_t n_seq, index_t n_head, index_t n_tokens) {
  const index_t tasks = n_tokens * n_head;
  if (n_seq <= 0 || tasks <= 0) return;
  launch(causal_softmax_backward_kernel<S>, grid_size(tasks, att_threads / warp_size), att_threads, datt, att,
         seq_offsets, att_offsets, n_seq, n_head, tasks);
}

}  // namespace prefopt::thrust_device::cuda_kernels
