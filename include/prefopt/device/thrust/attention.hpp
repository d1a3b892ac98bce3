// SPDX-License-Identifier: MIT
// The thrust device's causal attention over packed sequences — the CPU device's buffers and
// conventions exactly (device/cpu/attention.hpp: qkv (N, 3C), out (N, C), att blocks (L, L) per
// sequence and head at att_offsets[s] + h·L·L, zero above the diagonal). Portable form: one
// thread per (token row, head) computes that query's scores, softmax and output; the backward
// gives one thread per (query row, head) dS and dQ, then one per (key row, head) dK and dV, each
// summing in a fixed order (deterministic, no atomics).
#pragma once

#include <cmath>

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

template <class S>
struct AttentionForward {
  S* out;
  S* att;
  const S* qkv;
  const index_t* seq_offsets;
  const index_t* att_offsets;
  index_t n_seq, n_head, C;
  PREFOPT_HOST_DEVICE void operator()(index_t task) const {
    const index_t n = task / n_head, h = task % n_head, hd = C / n_head, C3 = 3 * C;
    const index_t s = sequence_of(seq_offsets, n_seq, n);
    const index_t o = seq_offsets[s], L = seq_offsets[s + 1] - o, i = n - o;
    const S scale = S(1) / std::sqrt(static_cast<S>(hd));
    S* p = att + att_offsets[s] + h * L * L + i * L;
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
    const index_t n = task / n_head, h = task % n_head, hd = C / n_head, C3 = 3 * C;
    const index_t s = sequence_of(seq_offsets, n_seq, n);
    const index_t o = seq_offsets[s], L = seq_offsets[s + 1] - o, i = n - o;
    const S scale = S(1) / std::sqrt(static_cast<S>(hd));
    const S* p = att + att_offsets[s] + h * L * L + i * L;
    S* ds = datt + att_offsets[s] + h * L * L + i * L;
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
    const index_t n = task / n_head, h = task % n_head, hd = C / n_head, C3 = 3 * C;
    const index_t s = sequence_of(seq_offsets, n_seq, n);
    const index_t o = seq_offsets[s], L = seq_offsets[s + 1] - o, j = n - o;
    const S scale = S(1) / std::sqrt(static_cast<S>(hd));
    const S* block_p = att + att_offsets[s] + h * L * L;
    const S* block_ds = datt + att_offsets[s] + h * L * L;
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
}  // namespace functors

namespace portable {
template <class Traits, class S>
void attention_forward(const ThrustDevice<Traits>& d, S* out, S* att, const S* qkv, const index_t* seq_offsets,
                       const index_t* att_offsets, index_t n_seq, index_t n_head, index_t channels) {
  if (n_seq <= 0) return;
  index_t n_tokens = 0;
  d.copy_to_host(seq_offsets + n_seq, 1, &n_tokens);
  for_each_index(d, n_tokens * n_head,
                 functors::AttentionForward<S>{out, att, qkv, seq_offsets, att_offsets, n_seq, n_head, channels});
}
}  // namespace portable

/// The portable twin unless the system has a faster one (CudaDevice: device/cuda/attention.hpp).
template <class Traits, class S>
void attention_forward(const ThrustDevice<Traits>& d, S* out, S* att, const S* qkv, const index_t* seq_offsets,
                       const index_t* att_offsets, index_t n_seq, index_t n_head, index_t channels) {
  portable::attention_forward(d, out, att, qkv, seq_offsets, att_offsets, n_seq, n_head, channels);
}

/// dqkv (N, 3C) (=); datt: scratch of att's size (overwritten).
template <class Traits, class S>
void attention_backward(const ThrustDevice<Traits>& d, S* dqkv, S* datt, const S* dout, const S* qkv, const S* att,
                        const index_t* seq_offsets, const index_t* att_offsets, index_t n_seq, index_t n_head,
                        index_t channels) {
  if (n_seq <= 0) return;
  index_t n_tokens = 0;
  d.copy_to_host(seq_offsets + n_seq, 1, &n_tokens);
  for_each_index(d, n_tokens * n_head,
                 functors::AttentionBackwardQuery<S>{dqkv, datt, dout, qkv, att, seq_offsets, att_offsets, n_seq,
                                                     n_head, channels});
  for_each_index(d, n_tokens * n_head,
                 functors::AttentionBackwardKey<S>{dqkv, datt, dout, qkv, att, seq_offsets, att_offsets, n_seq,
                                                   n_head, channels});
}

}  // namespace prefopt::thrust_device
