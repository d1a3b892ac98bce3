// SPDX-License-Identifier: MIT
// Causal multi-head self-attention over packed variable-length sequences (GPT-2's attention,
// scale 1/sqrt(head_dim), no dropout). Sequences are concatenated into one token stream; a query
// only sees keys of its own sequence at or before its position, and no padding exists anywhere.
//
// Buffers (N tokens in all, C = n_head * head_dim):
//   qkv (N, 3C)   row i = q | k | v; head h owns columns [h*hd, (h+1)*hd) of each third
//   out (N, C)    heads merged back in the same column order (HF's _merge_heads)
//   att           softmax probabilities: for sequence s of length L and head h, an (L, L)
//                 row-major block at att_offsets[s] + h*L*L, zero above the diagonal
//   offsets.seq (n_seq+1): sequence s covers rows [seq[s], seq[s+1])
//   offsets.att (n_seq+1): att[s] = n_head * sum_{s'<s} L_{s'}^2   (device/packed_offsets.hpp)
// Each (sequence, head) pair is independent; the pairs are spread over OpenMP threads and every
// pair runs its products as single-threaded Eigen GEMMs.
#pragma once

#include <cmath>

#include "prefopt/device/cpu/cpu_device.hpp"
#include "prefopt/device/packed_offsets.hpp"

namespace prefopt::cpu {

template <class S>
void attention_forward(const CpuDevice&, S* out, S* att, const S* qkv, const PackedOffsets& offsets,
                       index_t n_head, index_t channels) {
  const index_t *seq_offsets = offsets.seq, *att_offsets = offsets.att, n_seq = offsets.n_seq;
  const index_t hd = channels / n_head, C3 = 3 * channels;
  const S scale = S(1) / std::sqrt(static_cast<S>(hd));
  PREFOPT_OMP(omp parallel for schedule(dynamic, 1))
  for (index_t task = 0; task < n_seq * n_head; ++task) {
    const index_t s = task / n_head, h = task % n_head;
    const index_t o = seq_offsets[s], L = seq_offsets[s + 1] - o;
    if (L == 0) continue;
    ConstStridedMap<S> q(qkv + o * C3 + h * hd, L, hd, Eigen::OuterStride<>(C3));
    ConstStridedMap<S> k(qkv + o * C3 + channels + h * hd, L, hd, Eigen::OuterStride<>(C3));
    ConstStridedMap<S> v(qkv + o * C3 + 2 * channels + h * hd, L, hd, Eigen::OuterStride<>(C3));
    MatrixMap<S> p(att + att_offsets[s] + h * L * L, L, L);
    p.noalias() = scale * (q * k.transpose());
    for (index_t i = 0; i < L; ++i) {
      auto row = p.row(i).head(i + 1).array();
      const S mx = row.maxCoeff();
      row = (row - mx).exp();
      row /= row.sum();
      p.row(i).tail(L - i - 1).setZero();
    }
    StridedMap<S> y(out + o * channels + h * hd, L, hd, Eigen::OuterStride<>(channels));
    y.noalias() = p * v;
  }
}

/// dqkv (N, 3C) = gradient w.r.t. qkv  (=);  datt: scratch of att's size (overwritten).
///   dP = dO V^T,  dV = P^T dO,  dS_ij = P_ij (dP_ij - sum_k P_ik dP_ik)  (softmax backward),
///   dQ = scale dS K,  dK = scale dS^T Q.
template <class S>
void attention_backward(const CpuDevice&, S* dqkv, S* datt, const S* dout, const S* qkv,
                        const S* att, const PackedOffsets& offsets, index_t n_head, index_t channels) {
  const index_t *seq_offsets = offsets.seq, *att_offsets = offsets.att, n_seq = offsets.n_seq;
  const index_t hd = channels / n_head, C3 = 3 * channels;
  const S scale = S(1) / std::sqrt(static_cast<S>(hd));
  PREFOPT_OMP(omp parallel for schedule(dynamic, 1))
  for (index_t task = 0; task < n_seq * n_head; ++task) {
    const index_t s = task / n_head, h = task % n_head;
    const index_t o = seq_offsets[s], L = seq_offsets[s + 1] - o;
    if (L == 0) continue;
    const auto stride3 = Eigen::OuterStride<>(C3);
    ConstStridedMap<S> q(qkv + o * C3 + h * hd, L, hd, stride3);
    ConstStridedMap<S> k(qkv + o * C3 + channels + h * hd, L, hd, stride3);
    ConstStridedMap<S> v(qkv + o * C3 + 2 * channels + h * hd, L, hd, stride3);
    StridedMap<S> dq(dqkv + o * C3 + h * hd, L, hd, stride3);
    StridedMap<S> dk(dqkv + o * C3 + channels + h * hd, L, hd, stride3);
    StridedMap<S> dv(dqkv + o * C3 + 2 * channels + h * hd, L, hd, stride3);
    ConstStridedMap<S> dy(dout + o * channels + h * hd, L, hd, Eigen::OuterStride<>(channels));
    ConstMatrixMap<S> p(att + att_offsets[s] + h * L * L, L, L);
    MatrixMap<S> ds(datt + att_offsets[s] + h * L * L, L, L);

    dv.noalias() = p.transpose() * dy;
    ds.noalias() = dy * v.transpose();
    for (index_t i = 0; i < L; ++i) {
      auto pr = p.row(i).head(i + 1).array();
      auto dr = ds.row(i).head(i + 1).array();
      const S dot = (pr * dr).sum();
      dr = pr * (dr - dot);
      ds.row(i).tail(L - i - 1).setZero();
    }
    dq.noalias() = scale * (ds * k);
    dk.noalias() = scale * (ds.transpose() * q);
  }
}

}  // namespace prefopt::cpu
