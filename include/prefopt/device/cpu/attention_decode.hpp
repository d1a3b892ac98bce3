// SPDX-License-Identifier: MIT
// Causal attention of new positions against a key/value cache (generation). Each of n_seq
// sequences brings n_i >= 1 new rows (one token per decoding step, or a whole prompt chunk at
// prefill); the kernel first appends their keys and values to the sequence's cache slot, then lets
// new row j (absolute position past_i + j) attend to cached positions [0, past_i + j]. This is the
// same computation as attention_forward over the whole prefix, restricted to the new rows:
// GPT-2's attention, scale 1/sqrt(head_dim), no dropout.
//
// Buffers (N = sum_i n_i new rows, C = n_head * head_dim, T_i = past_i + n_i):
//   qkv (N, 3C)           new rows, q | k | v; head h owns columns [h*hd, (h+1)*hd) of each third
//                         (exactly attention_forward's layout)
//   out (N, C)            heads merged back in the same column order
//   key_cache, value_cache (n_slots, max_len, C)   one layer's cache: row t of slot b at
//                         (b * max_len + t) * C, heads as column slices; rows [past_i, T_i) of
//                         slot slots[i] are written here, rows below past_i are read
//   scores                scratch: for sequence i and head h an (n_i, T_i) block at
//                         score_offsets[i] + h * n_i * T_i (overwritten)
//   new_offsets (n_seq+1) sequence i's new rows are [new_offsets[i], new_offsets[i+1])
//   slots (n_seq)         cache slot of sequence i (distinct)
//   past_lengths (n_seq)  positions already cached for sequence i (T_i <= max_len)
//   score_offsets (n_seq+1): score_offsets[i] = n_head * sum_{i'<i} n_{i'} T_{i'}
//   n_new                 N = new_offsets[n_seq], passed from the host (a GPU device would
//                         otherwise read it back from its own memory once per layer)
// Every (sequence, head) pair touches its own columns of its own slot, so the pairs are spread
// over OpenMP threads with no synchronisation; each runs single-threaded Eigen products. A
// decoding step of a short batch is only microseconds of work, less than waking a thread, so the
// loop runs serially below parallel_min_work multiply-adds.
#pragma once

#include <cmath>
#include <cstring>

#include "prefopt/device/cpu/cpu_device.hpp"

namespace prefopt::cpu {

template <class S>
void attention_decode_forward(const CpuDevice&, S* out, S* key_cache, S* value_cache, S* scores,
                              const S* qkv, const index_t* new_offsets, const index_t* slots,
                              const index_t* past_lengths, const index_t* score_offsets,
                              index_t n_seq, index_t /*n_new*/, index_t n_head, index_t channels,
                              index_t max_len) {
  const index_t hd = channels / n_head, C3 = 3 * channels;
  const S scale = S(1) / std::sqrt(static_cast<S>(hd));
  const auto stride_c = Eigen::OuterStride<>(channels);
  constexpr index_t parallel_min_work = index_t{1} << 18;
  const bool parallel = score_offsets[n_seq] * hd >= parallel_min_work;  // sum of n_i T_i hd over heads
  (void)parallel;  // unused without OpenMP
  PREFOPT_OMP(omp parallel for schedule(dynamic, 1) if(parallel))
  for (index_t task = 0; task < n_seq * n_head; ++task) {
    const index_t i = task / n_head, h = task % n_head;
    const index_t o = new_offsets[i], n = new_offsets[i + 1] - o;
    if (n == 0) continue;
    const index_t past = past_lengths[i], T = past + n;
    S* kc = key_cache + slots[i] * max_len * channels + h * hd;    // (max_len, hd), stride C
    S* vc = value_cache + slots[i] * max_len * channels + h * hd;
    for (index_t j = 0; j < n; ++j) {
      const S* row = qkv + (o + j) * C3 + h * hd;
      std::memcpy(kc + (past + j) * channels, row + channels, static_cast<std::size_t>(hd) * sizeof(S));
      std::memcpy(vc + (past + j) * channels, row + 2 * channels, static_cast<std::size_t>(hd) * sizeof(S));
    }
    ConstStridedMap<S> q(qkv + o * C3 + h * hd, n, hd, Eigen::OuterStride<>(C3));
    ConstStridedMap<S> k(kc, T, hd, stride_c);
    ConstStridedMap<S> v(vc, T, hd, stride_c);
    MatrixMap<S> p(scores + score_offsets[i] + h * n * T, n, T);
    p.noalias() = scale * (q * k.transpose());
    for (index_t j = 0; j < n; ++j) {
      const index_t seen = past + j + 1;  // keys at or before this row's position
      auto row = p.row(j).head(seen).array();
      const S mx = row.maxCoeff();
      row = (row - mx).exp();
      row /= row.sum();
      p.row(j).tail(T - seen).setZero();
    }
    StridedMap<S> y(out + o * channels + h * hd, n, hd, stride_c);
    y.noalias() = p * v;
  }
}

}  // namespace prefopt::cpu
