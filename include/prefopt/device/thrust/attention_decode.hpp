// SPDX-License-Identifier: MIT
// The thrust device's attention of new positions against the key/value cache (generation), with
// the CPU device's buffers and conventions (device/cpu/attention_decode.hpp). Two portable
// passes: one thread per (new row, head) appends that row's key and value to its slot, then one
// thread per (new row, head) attends over the slot's cached positions up to its own. CudaDevice
// overloads it with a warp per (new row, head) (device/cuda/attention_decode.hpp); this form stays
// callable as portable::attention_decode_forward, the GPU tests' twin.
#pragma once

#include <cmath>

#include "prefopt/device/thrust/attention.hpp"
#include "prefopt/device/thrust/thrust_device.hpp"

namespace prefopt::thrust_device {

namespace functors {
template <class S>
struct DecodeAppend {
  S* key_cache;
  S* value_cache;
  const S* qkv;
  const index_t* new_offsets;
  const index_t* slots;
  const index_t* past_lengths;
  index_t n_seq, n_head, C, max_len;
  PREFOPT_HOST_DEVICE void operator()(index_t task) const {
    const index_t r = task / n_head, h = task % n_head, hd = C / n_head, C3 = 3 * C;
    const index_t i = sequence_of(new_offsets, n_seq, r);
    const index_t t = past_lengths[i] + (r - new_offsets[i]);
    const S* row = qkv + r * C3 + h * hd;
    S* kc = key_cache + (slots[i] * max_len + t) * C + h * hd;
    S* vc = value_cache + (slots[i] * max_len + t) * C + h * hd;
    for (index_t c = 0; c < hd; ++c) {
      kc[c] = row[C + c];
      vc[c] = row[2 * C + c];
    }
  }
};
template <class S>
struct DecodeAttend {
  S* out;
  S* scores;
  const S* key_cache;
  const S* value_cache;
  const S* qkv;
  const index_t* new_offsets;
  const index_t* slots;
  const index_t* past_lengths;
  const index_t* score_offsets;
  index_t n_seq, n_head, C, max_len;
  PREFOPT_HOST_DEVICE void operator()(index_t task) const {
    const index_t r = task / n_head, h = task % n_head, hd = C / n_head, C3 = 3 * C;
    const index_t i = sequence_of(new_offsets, n_seq, r);
    const index_t n = new_offsets[i + 1] - new_offsets[i], j = r - new_offsets[i];
    const index_t past = past_lengths[i], T = past + n, seen = past + j + 1;
    const S scale = S(1) / std::sqrt(static_cast<S>(hd));
    S* p = scores + score_offsets[i] + h * n * T + j * T;
    const S* q = qkv + r * C3 + h * hd;
    const S* kc = key_cache + slots[i] * max_len * C + h * hd;
    const S* vc = value_cache + slots[i] * max_len * C + h * hd;
    S mx = 0;
    for (index_t t = 0; t < seen; ++t) {
      S dot = 0;
      for (index_t c = 0; c < hd; ++c) dot += q[c] * kc[t * C + c];
      p[t] = scale * dot;
      mx = (t == 0 || p[t] > mx) ? p[t] : mx;
    }
    S sum = 0;
    for (index_t t = 0; t < seen; ++t) {
      p[t] = std::exp(p[t] - mx);
      sum += p[t];
    }
    for (index_t t = 0; t < seen; ++t) p[t] /= sum;
    for (index_t t = seen; t < T; ++t) p[t] = 0;
    S* y = out + r * C + h * hd;
    for (index_t c = 0; c < hd; ++c) y[c] = 0;
    for (index_t t = 0; t < seen; ++t)
      for (index_t c = 0; c < hd; ++c) y[c] += p[t] * vc[t * C + c];
  }
};
}  // namespace functors

namespace portable {
/// One thread per (new row, head): the GPU tests' twin of CudaDevice's warp-per-row kernel
/// (device/cuda/attention_decode.hpp). n_new = new_offsets[n_seq], from the caller's host copy:
/// nothing is read back from the device.
template <class Traits, class S>
void attention_decode_forward(const ThrustDevice<Traits>& d, S* out, S* key_cache, S* value_cache, S* scores,
                              const S* qkv, const index_t* new_offsets, const index_t* slots,
                              const index_t* past_lengths, const index_t* score_offsets, index_t n_seq, index_t n_new,
                              index_t n_head, index_t channels, index_t max_len) {
  if (n_seq <= 0) return;
  for_each_index(d, n_new * n_head,
                 functors::DecodeAppend<S>{key_cache, value_cache, qkv, new_offsets, slots, past_lengths, n_seq, n_head,
                                           channels, max_len});
  for_each_index(d, n_new * n_head,
                 functors::DecodeAttend<S>{out, scores, key_cache, value_cache, qkv, new_offsets, slots, past_lengths,
                                           score_offsets, n_seq, n_head, channels, max_len});
}
}  // namespace portable

/// The portable kernels unless the system has faster ones (CudaDevice: device/cuda/attention_decode.hpp).
template <class Traits, class S>
void attention_decode_forward(const ThrustDevice<Traits>& d, S* out, S* key_cache, S* value_cache, S* scores,
                              const S* qkv, const index_t* new_offsets, const index_t* slots,
                              const index_t* past_lengths, const index_t* score_offsets, index_t n_seq, index_t n_new,
                              index_t n_head, index_t channels, index_t max_len) {
  portable::attention_decode_forward(d, out, key_cache, value_cache, scores, qkv, new_offsets, slots, past_lengths,
                                     score_offsets, n_seq, n_new, n_head, channels, max_len);
}

}  // namespace prefopt::thrust_device
