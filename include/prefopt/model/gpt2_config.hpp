// SPDX-License-Identifier: MIT
// Gpt2Config: the hyperparameters of Hugging Face's GPT2Config that change the computation.
// Dropout fields are absent on purpose: prefopt trains with dropout off, as TRL's DPOTrainer does
// (disable_dropout=True).
#pragma once

#include <string>

#include "prefopt/core/error.hpp"
#include "prefopt/core/types.hpp"

namespace prefopt {

struct Gpt2Config {
  index_t n_layer = 12;
  index_t n_head = 12;
  index_t n_embd = 768;
  index_t n_positions = 1024;
  index_t vocab_size = 50257;
  index_t n_inner = 0;                // MLP width; 0 means HF's default, 4 * n_embd
  double layer_norm_epsilon = 1e-5;   // HF GPT2Config default
  double initializer_range = 0.02;    // std of GPT-2's normal init
  token_t bos_token_id = 50256;      // informational here; generation checks them against the vocab
  token_t eos_token_id = 50256;

  index_t mlp_width() const noexcept { return n_inner > 0 ? n_inner : 4 * n_embd; }
  index_t head_dim() const noexcept { return n_embd / n_head; }

  /// Throws ArgumentError when the shape is not a valid GPT-2 (e.g. n_embd % n_head != 0).
  void validate() const {
    PREFOPT_CHECK(n_layer > 0, "Gpt2Config: n_layer must be positive, got ", n_layer);
    PREFOPT_CHECK(n_head > 0, "Gpt2Config: n_head must be positive, got ", n_head);
    PREFOPT_CHECK(n_embd > 0 && n_embd % n_head == 0,
                  "Gpt2Config: n_embd must be a positive multiple of n_head, got n_embd=", n_embd,
                  " n_head=", n_head);
    PREFOPT_CHECK(n_positions > 0, "Gpt2Config: n_positions must be positive, got ", n_positions);
    PREFOPT_CHECK(vocab_size > 0, "Gpt2Config: vocab_size must be positive, got ", vocab_size);
    PREFOPT_CHECK(n_inner >= 0, "Gpt2Config: n_inner must be >= 0 (0 = 4*n_embd), got ", n_inner);
    PREFOPT_CHECK(layer_norm_epsilon > 0, "Gpt2Config: layer_norm_epsilon must be positive");
  }

  /// GPT-2 "small", the 124M model of the seed experiment (124,439,808 parameters).
  static Gpt2Config gpt2_124m() { return Gpt2Config{}; }

  /// The small configuration of the benchmarks: 4 layers, 4 heads, 256 wide, GPT-2 vocabulary.
  static Gpt2Config small() {
    Gpt2Config c;
    c.n_layer = 4;
    c.n_head = 4;
    c.n_embd = 256;
    c.n_positions = 1024;
    return c;
  }
};

inline bool operator==(const Gpt2Config& a, const Gpt2Config& b) {
  return a.n_layer == b.n_layer && a.n_head == b.n_head && a.n_embd == b.n_embd &&
         a.n_positions == b.n_positions && a.vocab_size == b.vocab_size &&
         a.mlp_width() == b.mlp_width() && a.layer_norm_epsilon == b.layer_norm_epsilon &&
         a.bos_token_id == b.bos_token_id && a.eos_token_id == b.eos_token_id;
}
inline bool operator!=(const Gpt2Config& a, const Gpt2Config& b) { return !(a == b); }

}  // namespace prefopt
