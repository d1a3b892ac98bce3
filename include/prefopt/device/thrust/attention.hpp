// SPDX-License-Identifier: MIT
// The thrust device's causal attention over packed sequences — the CPU device's buffers and
// conventions exactly (device/cpu/attention.hpp: qkv (N, 3C), out (N, C), att blocks (L, L) per
// sequence and head at att_offsets[s] + h·L·L, zero above the diagonal).
//
// What every thrust device runs (attention_forward / attention_backward below) is the CPU
// device's algorithm: the products as GEMMs, batched over the heads of one sequence — the system's
// Traits::gemm_batched (cuBLAS strided-batched GEMMs on CUDA, Eigen on the OpenMP twin) — and the
// causal softmax and its backward as row kernels, one task per (token row, head):
//   forward:  S_h = scale·Q_h·K_hᵀ (into att),  P = causal_softmax(S),  O_h = P_h·V_h
//   backward: dP_h = dO_h·V_hᵀ (into datt),  dS = P ⊙ (dP − rowsum(P ⊙ dP)),
//             dQ_h = scale·dS_h·K_h,  dK_h = scale·dS_hᵀ·Q_h,  dV_h = P_hᵀ·dO_h
// The row kernels have a portable form here and a warp-per-row CUDA form (device/cuda/attention.hpp).
//
// portable::attention_forward / attention_backward keep the one-thread-per-(row, head) form
// (every dot product a sequential loop, no GEMM): an independent twin that the GPU tests compare
// the GEMM path with (tests/device/cuda_device_test.cu). Deterministic: each output element is
// summed by one thread or one GEMM in a fixed order, never atomics.
#pragma once

#include <cmath>

#include "prefopt/device/packed_offsets.hpp"
#include "prefopt/device/thrust/thrust_device.hpp"

namespace prefopt::thrust_device {

namespace functors {
// The sequence of token row n: the last s with seq_offsets[s] <= n (binary search).
PREFOPT_HOST_DEVICE inline index_t sequence_of(const index_t* seq_offsets, index_t n_seq, index_t n) {
  index_t lo = 0, hi = n_seq - 1;
  while (lo < hi) {
    const index_t mid = (lo + hi + 1) / 2;
    if (seq_offsets[mid] <= n) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

// Where the task (token row n, head h) of a packed batch sits: its sequence's first row o and
// length L, its position i in the sequence, and the start of its row of the (L, L) block of head h
// in att / datt (att_offsets[s] + h·L·L + i·L). One task per (row, head) is how every row kernel
// of the attention is laid out (tasks n·n_head + h).
struct AttentionTask {
  index_t h, o, L, i, row;
};
PREFOPT_HOST_DEVICE inline AttentionTask attention_task(const index_t* seq_offsets, const index_t* att_offsets,
                                                        index_t n_seq, index_t n_head, index_t task) {
  const index_t n = task / n_head, h = task % n_head;
  const index_t s = sequence_of(seq_offsets, n_seq, n);
  const index_t o = seq_offsets[s], L = seq_offsets[s + 1] - o, i = n - o;
  return AttentionTask{h, o, L, i, att_offsets[s] + h * L * L + i * L};
}

template <class S>
struct AttentionForward {
  S* out;
  S* att;
  const S* qkv;
  const index_t* seq_offsets;
  const index_t* att_offsets;
  index_t n_seq, n_head, C;
  PREFOPT_HOST_DEVICE void operator()(index_t task) const {
    const AttentionTask t = attention_task(seq_offsets, att_offsets, n_seq, n_head, task);
    const index_t h = t.h, o = t.o, L = t.L, i = t.i, n = o + i, hd = C / n_head, C3 = 3 * C;
    const S scale = S(1) / std::sqrt(static_cast<S>(hd));
    S* p = att + t.row;
    const S* q = qkv + n * C3 + h * hd;
    S mx = 0;
    for (index_t j = 0; j <= i; ++j) {
      const S* k = qkv + (o + j) * C3 + C + h * hd;
      S dot = 0;
      for (index_t c = 0; c < hd; ++c) dot += q[c] * k[c];
      p[j] = scale * dot;
      mx = (j == 0 || p[j] > mx) ? p[j] : mx;
    }
    S sum = 0;
    for (index_t j = 0; j <= i; ++j) {
      p[j] = std::exp(p[j] - mx);
      sum += p[j];
    }
    for (index_t j = 0; j <= i; ++j) p[j] /= sum;
    for (index_t j = i + 1; j < L; ++j) p[j] = 0;
    S* y = out + n * C + h * hd;
    for (index_t c = 0; c < hd; ++c) y[c] = 0;
    for (index_t j = 0; j <= i; ++j) {
      const S* v = qkv + (o + j) * C3 + 2 * C + h * hd;
      for (index_t c = 0; c < hd; ++c) y[c] += p[j] * v[c];
    }
  }
};

// dS row i and dQ_i.  dP_ij = dO_i · V_j;  dS_ij = P_ij (dP_ij − Σ_k P_ik dP_ik);  dQ_i = scale Σ_j dS_ij K_j.
template <class S>
struct AttentionBackwardQuery {
  S* dqkv;
  S* datt;
  const S* dout;
  const S* qkv;
  const S* att;
  const index_t* seq_offsets;
  const index_t* att_offsets;
  index_t n_seq, n_head, C;
  PREFOPT_HOST_DEVICE void operator()(index_t task) const {
    const AttentionTask t = attention_task(seq_offsets, att_offsets, n_seq, n_head, task);
    const index_t h = t.h, o = t.o, L = t.L, i = t.i, n = o + i, hd = C / n_head, C3 = 3 * C;
    const S scale = S(1) / std::sqrt(static_cast<S>(hd));
    const S* p = att + t.row;
    S* ds = datt + t.row;
    const S* dy = dout + n * C + h * hd;
    S dot = 0;
    for (index_t j = 0; j <= i; ++j) {
      const S* v = qkv + (o + j) * C3 + 2 * C + h * hd;
      S dp = 0;
      for (index_t c = 0; c < hd; ++c) dp += dy[c] * v[c];
      ds[j] = dp;
      dot += p[j] * dp;
    }
    for (index_t j = 0; j <= i; ++j) ds[j] = p[j] * (ds[j] - dot);
    for (index_t j = i + 1; j < L; ++j) ds[j] = 0;
    S* dq = dqkv + n * C3 + h * hd;
    for (index_t c = 0; c < hd; ++c) dq[c] = 0;
    for (index_t j = 0; j <= i; ++j) {
      const S* k = qkv + (o + j) * C3 + C + h * hd;
      for (index_t c = 0; c < hd; ++c) dq[c] += ds[j] * k[c];
    }
    for (index_t c = 0; c < hd; ++c) dq[c] *= scale;
  }
};

// dK_j = scale Σ_{i>=j} dS_ij Q_i;  dV_j = Σ_{i>=j} P_ij dO_i.
template <class S>
struct AttentionBackwardKey {
  S* dqkv;
  const S* datt;
  const S* dout;
  const S* qkv;
  const S* att;
  const index_t* seq_offsets;
  const index_t* att_offsets;
  index_t n_seq, n_head, C;
  PREFOPT_HOST_DEVICE void operator()(index_t task) const {
    const AttentionTask t = attention_task(seq_offsets, att_offsets, n_seq, n_head, task);  // key row j = t.i
    const index_t h = t.h, o = t.o, L = t.L, j = t.i, n = o + j, hd = C / n_head, C3 = 3 * C;
    const S scale = S(1) / std::sqrt(static_cast<S>(hd));
    const S* block_p = att + t.row - j * L;  // the block's start
    const S* block_ds = datt + t.row - j * L;
    S* dk = dqkv + n * C3 + C + h * hd;
    S* dv = dqkv + n * C3 + 2 * C + h * hd;
    for (index_t c = 0; c < hd; ++c) dk[c] = dv[c] = 0;
    for (index_t i = j; i < L; ++i) {
      const S* q = qkv + (o + i) * C3 + h * hd;
      const S* dy = dout + (o + i) * C + h * hd;
      const S dsij = block_ds[i * L + j], pij = block_p[i * L + j];
      for (index_t c = 0; c < hd; ++c) {
        dk[c] += dsij * q[c];
        dv[c] += pij * dy[c];
      }
    }
    for (index_t c = 0; c < hd; ++c) dk[c] *= scale;
  }
};

// The causal softmax of one (row, head) of the scores block, in place: P_ij = exp(S_ij − m) / Σ
// over j <= i, zero above the diagonal (the CPU device's row loop).
template <class S>
struct CausalSoftmaxForward {
  S* att;
  const index_t* seq_offsets;
  const index_t* att_offsets;
  index_t n_seq, n_head;
  PREFOPT_HOST_DEVICE void operator()(index_t task) const {
    const AttentionTask t = attention_task(seq_offsets, att_offsets, n_seq, n_head, task);
    const index_t L = t.L, i = t.i;
    S* p = att + t.row;
    S mx = p[0];
    for (index_t j = 1; j <= i; ++j) mx = p[j] > mx ? p[j] : mx;
    S sum = 0;
    for (index_t j = 0; j <= i; ++j) {
      p[j] = std::exp(p[j] - mx);
      sum += p[j];
    }
    for (index_t j = 0; j <= i; ++j) p[j] /= sum;
    for (index_t j = i + 1; j < L; ++j) p[j] = 0;
  }
};

// Softmax backward of one (row, head), in place over dP: dS_ij = P_ij (dP_ij − Σ_k P_ik dP_ik)
// for j <= i, zero above the diagonal.
template <class S>
struct CausalSoftmaxBackward {
  S* datt;
  const S* att;
  const index_t* seq_offsets;
  const index_t* att_offsets;
  index_t n_seq, n_head;
  PREFOPT_HOST_DEVICE void operator()(index_t task) const {
    const AttentionTask t = attention_task(seq_offsets, att_offsets, n_seq, n_head, task);
    const index_t L = t.L, i = t.i;
    const S* p = att + t.row;
    S* ds = datt + t.row;
    S dot = 0;
    for (index_t j = 0; j <= i; ++j) dot += p[j] * ds[j];
    for (index_t j = 0; j <= i; ++j) ds[j] = p[j] * (ds[j] - dot);
    for (index_t j = i + 1; j < L; ++j) ds[j] = 0;
  }
};
}  // namespace functors

namespace portable {
/// The one-thread-per-(row, head) attention forward (no GEMMs): the GPU tests' twin.
template <class Traits, class S>
void attention_forward(const ThrustDevice<Traits>& d, S* out, S* att, const S* qkv, const PackedOffsets& offsets,
                       index_t n_head, index_t channels) {
  if (offsets.n_seq <= 0) return;
  for_each_index(d, offsets.n_tokens() * n_head,
                 functors::AttentionForward<S>{out, att, qkv, offsets.seq, offsets.att, offsets.n_seq, n_head,
                                               channels});
}

/// The one-thread-per-(row, head) attention backward (no GEMMs): the GPU tests' twin.
template <class Traits, class S>
void attention_backward(const ThrustDevice<Traits>& d, S* dqkv, S* datt, const S* dout, const S* qkv, const S* att,
                        const PackedOffsets& offsets, index_t n_head, index_t channels) {
  if (offsets.n_seq <= 0) return;
  const index_t tasks = offsets.n_tokens() * n_head;
  const index_t *so = offsets.seq, *ao = offsets.att, n_seq = offsets.n_seq;
  for_each_index(d, tasks,
                 functors::AttentionBackwardQuery<S>{dqkv, datt, dout, qkv, att, so, ao, n_seq, n_head, channels});
  for_each_index(d, tasks,
                 functors::AttentionBackwardKey<S>{dqkv, datt, dout, qkv, att, so, ao, n_seq, n_head, channels});
}

/// The causal softmax rows, one thread per (token row, head).
template <class Traits, class S>
void causal_softmax_forward(const ThrustDevice<Traits>& d, S* att, const index_t* seq_offsets,
                            const index_t* att_offsets, index_t n_seq, index_t n_head, index_t n_tokens) {
  for_each_index(d, n_tokens * n_head, functors::CausalSoftmaxForward<S>{att, seq_offsets, att_offsets, n_seq, n_head});
}

/// The softmax backward rows (datt: dP in, dS out), one thread per (token row, head).
template <class Traits, class S>
void causal_softmax_backward(const ThrustDevice<Traits>& d, S* datt, const S* att, const index_t* seq_offsets,
                             const index_t* att_offsets, index_t n_seq, index_t n_head, index_t n_tokens) {
  for_each_index(d, n_tokens * n_head,
                 functors::CausalSoftmaxBackward<S>{datt, att, seq_offsets, att_offsets, n_seq, n_head});
}
}  // namespace portable

/// The portable rows unless the system has faster ones (CudaDevice: device/cuda/attention.hpp).
template <class Traits, class S>
void causal_softmax_forward(const ThrustDevice<Traits>& d, S* att, const index_t* seq_offsets,
                            const index_t* att_offsets, index_t n_seq, index_t n_head, index_t n_tokens) {
  portable::causal_softmax_forward(d, att, seq_offsets, att_offsets, n_seq, n_head, n_tokens);
}
template <class Traits, class S>
void causal_softmax_backward(const ThrustDevice<Traits>& d, S* datt, const S* att, const index_t* seq_offsets,
                             const index_t* att_offsets, index_t n_seq, index_t n_head, index_t n_tokens) {
  portable::causal_softmax_backward(d, datt, att, seq_offsets, att_offsets, n_seq, n_head, n_tokens);
}

/// out (N, C) (=), att (=): the scores GEMM, the causal softmax rows, the output GEMM. The GEMMs
/// are issued per sequence from offsets' host copy: nothing is read back from the device.
template <class Traits, class S>
void attention_forward(const ThrustDevice<Traits>& d, S* out, S* att, const S* qkv, const PackedOffsets& offsets,
                       index_t n_head, index_t channels) {
  const index_t n_seq = offsets.n_seq;
  if (n_seq <= 0) return;
  const index_t *so = offsets.host_seq, *ao = offsets.host_att;
  const index_t C = channels, C3 = 3 * C, hd = C / n_head;
  const S scale = S(1) / std::sqrt(static_cast<S>(hd));
  for (index_t s = 0; s < n_seq; ++s) {  // S_h = scale·Q_h·K_hᵀ, head h's block at stride L·L
    const index_t o = so[s], L = so[s + 1] - o;
    if (L == 0) continue;
    Traits::gemm_batched(false, true, L, L, hd, scale, qkv + o * C3, C3, hd, qkv + o * C3 + C, C3, hd,
                         att + ao[s], L, L * L, n_head);
  }
  causal_softmax_forward(d, att, offsets.seq, offsets.att, n_seq, n_head, so[n_seq]);
  for (index_t s = 0; s < n_seq; ++s) {  // O_h = P_h·V_h into head h's columns of out
    const index_t o = so[s], L = so[s + 1] - o;
    if (L == 0) continue;
    Traits::gemm_batched(false, false, L, hd, L, S(1), att + ao[s], L, L * L, qkv + o * C3 + 2 * C, C3, hd,
                         out + o * C, C, hd, n_head);
  }
}

/// dqkv (N, 3C) (=); datt: scratch of att's size (overwritten with dS).
template <class Traits, class S>
void attention_backward(const ThrustDevice<Traits>& d, S* dqkv, S* datt, const S* dout, const S* qkv, const S* att,
                        const PackedOffsets& offsets, index_t n_head, index_t channels) {
  const index_t n_seq = offsets.n_seq;
  if (n_seq <= 0) return;
  const index_t *so = offsets.host_seq, *ao = offsets.host_att;
  const index_t C = channels, C3 = 3 * C, hd = C / n_head;
  const S scale = S(1) / std::sqrt(static_cast<S>(hd));
  for (index_t s = 0; s < n_seq; ++s) {  // dP_h = dO_h·V_hᵀ;  dV_h = P_hᵀ·dO_h
    const index_t o = so[s], L = so[s + 1] - o;
    if (L == 0) continue;
    Traits::gemm_batched(false, true, L, L, hd, S(1), dout + o * C, C, hd, qkv + o * C3 + 2 * C, C3, hd,
                         datt + ao[s], L, L * L, n_head);
    Traits::gemm_batched(true, false, L, hd, L, S(1), att + ao[s], L, L * L, dout + o * C, C, hd,
                         dqkv + o * C3 + 2 * C, C3, hd, n_head);
  }
  causal_softmax_backward(d, datt, att, offsets.seq, offsets.att, n_seq, n_head, so[n_seq]);
  for (index_t s = 0; s < n_seq; ++s) {  // dQ_h = scale·dS_h·K_h;  dK_h = scale·dS_hᵀ·Q_h
    const index_t o = so[s], L = so[s + 1] - o;
    if (L == 0) continue;
    Traits::gemm_batched(false, false, L, hd, L, scale, datt + ao[s], L, L * L, qkv + o * C3 + C, C3, hd,
                         dqkv + o * C3, C3, hd, n_head);
    Traits::gemm_batched(true, false, L, hd, L, scale, datt + ao[s], L, L * L, qkv + o * C3, C3, hd,
                         dqkv + o * C3 + C, C3, hd, n_head);
  }
}

}  // namespace prefopt::thrust_device
