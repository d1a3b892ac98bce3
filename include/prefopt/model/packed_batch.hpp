// SPDX-License-Identifier: MIT
// PackedBatch: several token sequences concatenated into one stream, with per-position targets.
// No padding: a sequence of length L costs L positions. A position whose target is no_target gets
// no log-probability and skips the vocabulary projection altogether (prompt tokens in DPO).
#pragma once

#include <vector>

#include "prefopt/core/error.hpp"
#include "prefopt/core/types.hpp"
#include "prefopt/model/gpt2_config.hpp"

namespace prefopt {

struct PackedBatch {
  std::vector<token_t> tokens;            // (n_tokens)
  std::vector<token_t> targets;           // (n_tokens): the id whose log-prob is wanted, or no_target
  std::vector<index_t> offsets = {0};     // (n_sequences + 1)

  index_t n_tokens() const noexcept { return static_cast<index_t>(tokens.size()); }
  index_t n_sequences() const noexcept { return static_cast<index_t>(offsets.size()) - 1; }
  index_t length(index_t s) const { return offsets.at(s + 1) - offsets.at(s); }

  /// Appends a sequence scored as a language model scores it: position t targets token t+1 for
  /// every t + 1 >= score_from; earlier positions and the last one get no target. score_from = 1
  /// scores every next token; score_from = prompt length scores the completion only.
  void add_sequence(const std::vector<token_t>& seq, index_t score_from = 1) {
    PREFOPT_CHECK(!seq.empty(), "PackedBatch::add_sequence: empty sequence");
    PREFOPT_CHECK(score_from >= 1, "PackedBatch::add_sequence: score_from must be >= 1, got ",
                  score_from);
    const index_t L = static_cast<index_t>(seq.size());
    for (index_t t = 0; t < L; ++t) {
      tokens.push_back(seq[t]);
      targets.push_back(t + 1 < L && t + 1 >= score_from ? seq[t + 1] : no_target);
    }
    offsets.push_back(offsets.back() + L);
  }
  /// Appends a sequence with explicit per-position targets (same length as seq).
  void add_sequence(const std::vector<token_t>& seq, const std::vector<token_t>& seq_targets) {
    PREFOPT_CHECK(!seq.empty() && seq.size() == seq_targets.size(),
                  "PackedBatch::add_sequence: tokens and targets must be non-empty and equally long");
    tokens.insert(tokens.end(), seq.begin(), seq.end());
    targets.insert(targets.end(), seq_targets.begin(), seq_targets.end());
    offsets.push_back(offsets.back() + static_cast<index_t>(seq.size()));
  }
  void clear() {
    tokens.clear();
    targets.clear();
    offsets.assign(1, 0);
  }

  /// Throws ArgumentError on ids outside the vocabulary, sequences longer than n_positions,
  /// empty sequences or inconsistent sizes.
  void validate(const Gpt2Config& config) const {
    PREFOPT_CHECK(!offsets.empty() && offsets.front() == 0 && offsets.back() == n_tokens() &&
                      targets.size() == tokens.size(),
                  "PackedBatch: offsets/targets do not match the token stream");
    for (index_t s = 0; s < n_sequences(); ++s) {
      const index_t L = length(s);
      PREFOPT_CHECK(L > 0, "PackedBatch: sequence ", s, " is empty");
      PREFOPT_CHECK(L <= config.n_positions, "PackedBatch: sequence ", s, " has ", L,
                    " tokens but the model has n_positions=", config.n_positions);
    }
    for (index_t i = 0; i < n_tokens(); ++i) {
      PREFOPT_CHECK(tokens[i] >= 0 && tokens[i] < config.vocab_size, "PackedBatch: token ",
                    tokens[i], " at position ", i, " is outside the vocabulary [0, ",
                    config.vocab_size, ")");
      PREFOPT_CHECK(targets[i] == no_target || (targets[i] >= 0 && targets[i] < config.vocab_size),
                    "PackedBatch: target ", targets[i], " at position ", i,
                    " is outside the vocabulary");
    }
  }
};

}  // namespace prefopt
