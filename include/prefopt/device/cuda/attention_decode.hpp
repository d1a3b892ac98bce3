// SPDX-License-Identifier: MIT
// CudaDevice's attention of new rows against the key/value cache (generation), with the buffers
// and conventions of the CPU device (device/cpu/attention_decode.hpp) and of the portable twin
// (device/thrust/attention_decode.hpp), which runs one thread per (new row, head): at a decoding
// step that is batch × n_head threads (768 for 64 prompts of GPT-2 124M), each walking its whole
// cache slot alone with reads no other thread shares — a few percent of one H100's lanes. Here:
//   append: one thread per (new row, channel) copies that row's key and value element into the
//           slot (coalesced: neighbouring threads, neighbouring channels);
//   attend: one warp per (new row, head), 4 per block. Lanes split the head's channels, so every
//           key row is read by a whole warp at once and warp_sum (reduce.hpp) closes each dot
//           product; the score of key t is kept by lane t % 32, which alone exponentiates and
//           normalises it in the attention's warp softmax row (warp_causal_softmax_row,
//           attention.hpp: no lane reads another's writes, so no __syncwarp is needed); then
//           lanes split the channels again and walk the keys in order, 32 at a time, taking each
//           key's probability from its lane with __shfl_sync: y_c = Σ_t p_t v_tc, t ascending,
//           as the twin sums it.
// Same max, exponentials and output order as the twin; only the dot products' and the
// normaliser's summation order differ (the butterfly), so the two agree to rounding and every
// run is bit-identical (tests/device/cuda_device_test.cu compares them). The appends finish
// before the attend kernel starts (same stream), so a prefilled row sees the keys of the rows
// before it in its own chunk.
#pragma once

#include <cmath>

#include "prefopt/device/cuda/attention.hpp"

namespace prefopt::thrust_device::cuda_kernels {

constexpr int decode_threads = 128;  // 4 warps, 4 (new row, head) tasks per block

template <class S>
__global__ void __launch_bounds__(decode_threads)
    decode_append_kernel(S* key_cache, S* value_cache, const S* qkv, const index_t* new_offsets, const index_t* slots,
                         const index_t* past_lengths, index_t n_seq, index_t C, index_t max_len, index_t elements) {
  const index_t e = static_cast<index_t>(blockIdx.x) * decode_threads + threadIdx.x;
  if (e >= elements) return;
  const index_t r = e / C, c = e % C;
  const index_t i = functors::sequence_of(new_offsets, n_seq, r);
  const index_t t = past_lengths[i] + (r - new_offsets[i]);
  const index_t at = (slots[i] * max_len + t) * C + c;
  key_cache[at] = qkv[r * 3 * C + C + c];
  value_cache[at] = qkv[r * 3 * C + 2 * C + c];
}

template <class S>
__global__ void __launch_bounds__(decode_threads)
    decode_attend_kernel(S* out, S* scores, const S* key_cache, const S* value_cache, const S* qkv,
                         const index_t* new_offsets, const index_t* slots, const index_t* past_lengths,
                         const index_t* score_offsets, index_t n_seq, index_t n_head, index_t C, index_t max_len,
                         index_t tasks) {
  const index_t task = static_cast<index_t>(blockIdx.x) * (decode_threads / warp_size) + threadIdx.x / warp_size;
  if (task >= tasks) return;  // whole warps leave together: the shuffles below see full warps
  const int lane = threadIdx.x % warp_size;
  const index_t r = task / n_head, h = task % n_head, hd = C / n_head;
  const index_t i = functors::sequence_of(new_offsets, n_seq, r);
  const index_t n = new_offsets[i + 1] - new_offsets[i], j = r - new_offsets[i];
  const index_t past = past_lengths[i], T = past + n, seen = past + j + 1;
  const S scale = S(1) / std::sqrt(static_cast<S>(hd));
  S* p = scores + score_offsets[i] + h * n * T + j * T;
  const S* q = qkv + r * 3 * C + h * hd;
  const S* kc = key_cache + slots[i] * max_len * C + h * hd;
  const S* vc = value_cache + slots[i] * max_len * C + h * hd;

  for (index_t t = 0; t < seen; ++t) {
    S part = 0;
    for (index_t c = lane; c < hd; c += warp_size) part += q[c] * kc[t * C + c];
    const S s = scale * warp_sum(part);  // the butterfly leaves it in every lane
    if (t % warp_size == lane) p[t] = s;  // the lane that owns entry t in the softmax row below
  }
  warp_causal_softmax_row(p, seen, T, lane);

  S* y = out + r * C + h * hd;
  for (index_t c0 = 0; c0 < hd; c0 += warp_size) {
    const index_t c = c0 + lane;
    S acc = 0;
    for (index_t t0 = 0; t0 < seen; t0 += warp_size) {
      const S mine = t0 + lane < seen ? p[t0 + lane] : S(0);  // lane's own p (written above)
      const index_t keys = seen - t0 < warp_size ? seen - t0 : warp_size;  // the same in every lane
      for (index_t k = 0; k < keys; ++k) {
        const S pk = __shfl_sync(full_mask, mine, static_cast<int>(k));
        if (c < hd) acc += pk * vc[(t0 + k) * C + c];
      }
    }
    if (c < hd) y[c] = acc;
  }
}

/// n_new = new_offsets[n_seq], from the caller's host copy: nothing is read back.
template <class S>
void attention_decode_forward(S* out, S* key_cache, S* value_cache, S* scores, const S* qkv,
                              const index_t* new_offsets, const index_t* slots, const index_t* past_lengths,
                              const index_t* score_offsets, index_t n_seq, index_t n_new, index_t n_head,
                              index_t channels, index_t max_len) {
  if (n_seq <= 0 || n_new <= 0) return;
  const index_t elements = n_new * channels, tasks = n_new * n_head;
  launch(decode_append_kernel<S>, grid_size(elements, decode_threads), decode_threads, key_cache, value_cache, qkv,
         new_offsets, slots, past_lengths, n_seq, channels, max_len, elements);
  launch(decode_attend_kernel<S>, grid_size(tasks, decode_threads / warp_size), decode_threads, out, scores,
         key_cache, value_cache, qkv, new_offsets, slots, past_lengths, score_offsets, n_seq, n_head, channels,
         max_len, tasks);
}

}  // namespace prefopt::thrust_device::cuda_kernels
