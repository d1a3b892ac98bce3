// SPDX-License-Identifier: MIT
// A 2-layer, small-vocabulary GPT-2 and a packed batch for model tests.
#pragma once

#include <vector>

#include "prefopt/core/random.hpp"
#include "prefopt/model/gpt2_config.hpp"
#include "prefopt/model/packed_batch.hpp"

namespace prefopt::test {

inline Gpt2Config tiny_config() {
  Gpt2Config c;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_embd = 8;
  c.n_positions = 16;
  c.vocab_size = 13;
  return c;
}

inline std::vector<token_t> random_tokens(index_t n, index_t vocab, std::uint64_t seed) {
  Random rng(seed);
  std::vector<token_t> t(static_cast<std::size_t>(n));
  for (auto& x : t) x = static_cast<token_t>(rng.below(static_cast<std::uint64_t>(vocab)));
  return t;
}

/// The sequences of `tiny_batch`, with where each starts being scored.
struct TinySequence {
  std::vector<token_t> tokens;
  index_t score_from;
};
inline std::vector<TinySequence> tiny_sequences(index_t vocab) {
  return {{random_tokens(6, vocab, 1), 3},   // prompt of 3, completion of 3
          {random_tokens(1, vocab, 2), 1},   // a single token: nothing to score
          {random_tokens(9, vocab, 3), 1},   // every next token
          {random_tokens(4, vocab, 4), 2}};
}
inline PackedBatch pack(const std::vector<TinySequence>& seqs) {
  PackedBatch b;
  for (const auto& s : seqs) b.add_sequence(s.tokens, s.score_from);
  return b;
}

}  // namespace prefopt::test
