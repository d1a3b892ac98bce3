// SPDX-License-Identifier: MIT
// Seeded random tokenized pairs for the trainer suites (single process, MPI, NCCL): prompts of
// 2 .. 2 + prompt_extra tokens, completions of 1 .. 1 + completion_extra tokens.
#pragma once

#include <cstdint>
#include <vector>

#include "model/tiny_model.hpp"
#include "prefopt/core/random.hpp"
#include "prefopt/data/tokenize_pair.hpp"

namespace prefopt::test {

inline std::vector<TokenizedPair> random_pairs(index_t n, index_t vocab, std::uint64_t seed, index_t prompt_extra = 2,
                                               index_t completion_extra = 4) {
  Random rng(seed);
  auto length = [&](index_t base, index_t extra) {
    return base + static_cast<index_t>(rng.below(static_cast<std::uint64_t>(extra) + 1));
  };
  std::vector<TokenizedPair> pairs;
  for (index_t i = 0; i < n; ++i) {
    TokenizedPair p;
    p.prompt_ids = random_tokens(length(2, prompt_extra), vocab, rng.next_u64());
    p.chosen_ids = random_tokens(length(1, completion_extra), vocab, rng.next_u64());
    p.rejected_ids = random_tokens(length(1, completion_extra), vocab, rng.next_u64());
    pairs.push_back(std::move(p));
  }
  return pairs;
}

}  // namespace prefopt::test
