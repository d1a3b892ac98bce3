// SPDX-License-Identifier: MIT
// CudaDevice's fused log-softmax + target gather (nvcc, or the tests' SIMT emulator): one block of
// `lsm_threads` per row. Forward: each thread streams its strided share of the row's logits
// (coalesced) through a running (max, Σ exp) pair, then block_lse (reduce.hpp) merges the pairs in
// a fixed tree — one read of the 50,257 logits instead of the portable twin's two passes in one
// thread. Backward: the same block per row rewrites the row in place, w (onehot - exp(z - lse)),
// without the portable twin's per-element 64-bit division. Deterministic (fixed tree, no atomics);
// equal to the portable twin (device/thrust/layernorm.hpp) to rounding.
#pragma once

#include "prefopt/device/cuda/reduce.hpp"

namespace prefopt::thrust_device::cuda_kernels {

constexpr int lsm_threads = 512;

template <class S>
__global__ void __launch_bounds__(lsm_threads)
    logsoftmax_gather_forward_kernel(S* logp, S* lse, const S* logits, const token_t* targets, index_t V) {
  __shared__ S shared[2 * lsm_threads / warp_size];
  const index_t r = blockIdx.x;
  const S* z = logits + r * V;
  LseAcc<S> a{-INFINITY, S(0)};
  for (index_t v = threadIdx.x; v < V; v += lsm_threads) a.add(z[v]);
  a = block_lse<lsm_threads>(a, shared);
  if (threadIdx.x == 0) {
    const S l = a.m + std::log(a.s);
    lse[r] = l;
    logp[r] = z[targets[r]] - l;
  }
}

template <class S>
__global__ void __launch_bounds__(lsm_threads)
    logsoftmax_gather_backward_kernel(S* logits, const S* lse, const token_t* targets, const S* weights, index_t V) {
  const index_t r = blockIdx.x;
  S* z = logits + r * V;
  const S w = weights[r], l = lse[r];
  const index_t t = static_cast<index_t>(targets[r]);
  for (index_t v = threadIdx.x; v < V; v += lsm_threads) {
    S g = -w * std::exp(z[v] - l);
    if (v == t) g += w;
    z[v] = g;
  }
}

template <class S>
void logsoftmax_gather_forward(S* logp, S* lse, const S* logits, const token_t* targets, index_t rows, index_t V) {
  if (rows <= 0) return;
  launch(logsoftmax_gather_forward_kernel<S>, static_cast<unsigned>(rows), lsm_threads, logp, lse, logits, targets, V);
}

template <class S>
void logsoftmax_gather_backward(S* logits, const S* lse, const token_t* targets, const S* weights, index_t rows,
                                index_t V) {
  if (rows <= 0) return;
  launch(logsoftmax_gather_backward_kernel<S>, static_cast<unsigned>(rows), lsm_threads, logits, lse, targets, weights,
         V);
}

}  // namespace prefopt::thrust_device::cuda_kernels
