// SPDX-License-Identifier: MIT
// Where Gpt2 keeps its activations: one arena per model, carved into named buffers for a batch of
// N tokens, R scored rows and A attention-probability elements per layer. The arena only grows, so
// a training loop with bounded batch sizes allocates nothing after its first steps.
//
// Training keeps every layer's activations for the backward pass. Inference (reference scoring,
// generation) keeps one layer's worth and two residual slots, and projects onto the vocabulary in
// chunks of rows, so scoring memory does not grow with depth or with the number of scored rows.
#pragma once

#include <algorithm>
#include <cstdint>

#include "prefopt/core/types.hpp"
#include "prefopt/model/gpt2_config.hpp"

namespace prefopt {

enum class ForwardMode { training, inference };

/// Offsets (in elements) of every activation buffer inside the arena.
struct Gpt2ActivationLayout {
  index_t n = 0, rows = 0, att = 0;  // tokens, scored rows, attention elements per layer
  index_t logits_rows = 0;           // rows of the logits buffer (rows, or a chunk in inference)
  index_t layer_slots = 0, residual_slots = 0;
  bool training = true;
  // per layer slot
  index_t ln1 = 0, ln1_mean = 0, ln1_rstd = 0, qkv = 0, att_p = 0, atty = 0, res_mid = 0, ln2 = 0,
          ln2_mean = 0, ln2_rstd = 0, fc = 0, gelu = 0, layer_stride = 0;
  // residual stream slots (N, C) each
  index_t res = 0;
  // final stage
  index_t sel = 0, lnf = 0, lnf_mean = 0, lnf_rstd = 0, logits = 0, lse = 0, logp_sel = 0;
  // backward scratch (training only)
  index_t dres = 0, dc = 0, dqkv = 0, dfc = 0, datt = 0, dsel = 0, dlnf = 0, w_sel = 0;
  index_t total = 0;

  /// Inference projects at most this many rows onto the vocabulary at once.
  static constexpr index_t inference_logit_chunk = 256;

  Gpt2ActivationLayout() = default;
  Gpt2ActivationLayout(const Gpt2Config& c, index_t n_tokens, index_t n_rows, index_t att_elems,
                       ForwardMode mode)
      : n(n_tokens), rows(n_rows), att(att_elems), training(mode == ForwardMode::training) {
    const index_t C = c.n_embd, F = c.mlp_width(), V = c.vocab_size;
    layer_slots = training ? c.n_layer : 1;
    residual_slots = training ? c.n_layer + 1 : 2;
    logits_rows = training ? rows : std::min(rows, inference_logit_chunk);
    index_t at = 0;
    // Round every buffer up to 16 elements so each starts 64-byte aligned for float.
    auto take = [&at](index_t count) {
      const index_t begin = at;
      at += (count + 15) / 16 * 16;
      return begin;
    };
    ln1 = take(n * C); ln1_mean = take(n); ln1_rstd = take(n); qkv = take(n * 3 * C);
    att_p = take(att); atty = take(n * C); res_mid = take(n * C); ln2 = take(n * C);
    ln2_mean = take(n); ln2_rstd = take(n); fc = take(n * F); gelu = take(n * F);
    layer_stride = at;
    at = layer_stride * layer_slots;
    res = at;
    at += residual_slots * ((n * C + 15) / 16 * 16);
    sel = take(rows * C); lnf = take(rows * C); lnf_mean = take(rows); lnf_rstd = take(rows);
    logits = take(logits_rows * V); lse = take(logits_rows); logp_sel = take(rows);
    if (training) {
      dres = take(n * C); dc = take(n * C); dqkv = take(n * 3 * C); dfc = take(n * F);
      datt = take(att); dsel = take(rows * C); dlnf = take(rows * C); w_sel = take(rows);
    }
    total = at;
  }

  index_t layer_offset(index_t l) const noexcept { return (training ? l : 0) * layer_stride; }
  index_t residual_offset(index_t l, index_t C) const noexcept {
    return res + (training ? l : l % 2) * ((n * C + 15) / 16 * 16);
  }
};

}  // namespace prefopt
