// SPDX-License-Identifier: MIT
// CudaDevice's causal attention forward over packed sequences (nvcc only): one warp per (token
// row, head) instead of the portable twin's one thread. Lanes stride the keys j <= i for the
// scores (each lane one full q·k_j in channel order), warp_max / warp_sum (reduce.hpp) give the
// row's max and normaliser in a fixed butterfly, and for the output lanes stride the head's
// channels, each summing p_ij v_j over j in order (coalesced reads of V). Buffers and
// conventions are the portable twin's (device/thrust/attention.hpp); the backward stays the
// portable twin's. Deterministic; equal to the portable twin to rounding.
#pragma once

#include "prefopt/device/cuda/reduce.hpp"
#include "prefopt/device/thrust/attention.hpp"

namespace prefopt::thrust_device::cuda_kernels {

constexpr int att_threads = 128;  // 4 warps, 4 (row, head) tasks per block

template <class S>
__global__ void __launch_bounds__(att_threads)
    attention_forward_kernel(S* out, S* att, const S* qkv, const index_t* seq_offsets, const index_t* att_offsets,
                             index_t n_seq, index_t n_head, index_t C, index_t tasks) {
  const index_t task = static_cast<index_t>(blockIdx.x) * (att_threads / warp_size) + threadIdx.x / warp_size;
  if (task >= tasks) return;  // whole warps
  const int lane = threadIdx.x % warp_size;
  const index_t n = task / n_head, h = task % n_head, hd = C / n_head, C3 = 3 * C;
  const index_t s = functors::sequence_of(seq_offsets, n_seq, n);
  const index_t o = seq_offsets[s], L = seq_offsets[s + 1] - o, i = n - o;
  const S scale = S(1) / std::sqrt(static_cast<S>(hd));
  S* p = att + att_offsets[s] + h * L * L + i * L;
  const S* q = qkv + n * C3 + h * hd;
  S mx = -INFINITY;
  for (index_t j = lane; j <= i; j += warp_size) {
    const S* k = qkv + (o + j) * C3 + C + h * hd;
    S dot = 0;
    for (index_t c = 0; c < hd; ++c) dot += q[c] * k[c];
    const S score = scale * dot;
    p[j] = score;
    mx = score > mx ? score : mx;
  }
  mx = warp_max(mx);
  S sum = 0;
  for (index_t j = lane; j <= i; j += warp_size) {
    const S e = std::exp(p[j] - mx);
    p[j] = e;
    sum += e;
  }
  sum = warp_sum(sum);
  for (index_t j = lane; j <= i; j += warp_size) p[j] /= sum;
  for (index_t j = i + 1 + lane; j < L; j += warp_size) p[j] = 0;
  __syncwarp();  // every lane's p[j] is written before any lane reads the whole row
  S* y = out + n * C + h * hd;
  for (index_t c = lane; c < hd; c += warp_size) {
    S acc = 0;
    for (index_t j = 0; j <= i; ++j) acc += p[j] * qkv[(o + j) * C3 + 2 * C + h * hd + c];
    y[c] = acc;
  }
}

/// n_tokens is the packed batch's total (seq_offsets[n_seq], read by the caller).
template <class S>
void attention_forward(S* out, S* att, const S* qkv, const index_t* seq_offsets, const index_t* att_offsets,
                       index_t n_seq, index_t n_head, index_t C, index_t n_tokens) {
  const index_t tasks = n_tokens * n_head;
  if (n_seq <= 0 || tasks <= 0) return;
  attention_forward_kernel<S><<<grid_size(tasks, att_threads / warp_size), att_threads>>>(
      out, att, qkv, seq_offsets, att_offsets, n_seq, n_head, C, tasks);
}

}  // namespace prefopt::thrust_device::cuda_kernels
