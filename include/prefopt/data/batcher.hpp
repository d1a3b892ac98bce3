// SPDX-License-Identifier: MIT
// Batcher: the order in which pairs are trained on — micro-batches of whole pairs, a seeded
// Fisher-Yates shuffle per epoch, resumable mid-epoch from a small BatcherState, and disjoint
// shards for data parallelism. append_pair() turns a pair into the two sequences the model scores:
// prompt + chosen and prompt + rejected, each scored from the first completion token on.
//
// Order of epoch e: random_permutation(n_pairs, epoch_seed(seed, e)) (core/random.hpp: Fisher-Yates
// in Durstenfeld's form over prefopt::Random) — the same on every platform. Shards: the
// permutation is cut into global batches of world_size * per_device_batch_size pairs; rank r
// takes the r-th slice of each. The tail (fewer than a global batch) is split as evenly as
// possible across ranks (LastBatch::Keep: every pair is used once per epoch, a rank's last
// micro-batch may be smaller or missing) or dropped (LastBatch::Drop: every rank gets the same
// number of full micro-batches).
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include "prefopt/core/error.hpp"
#include "prefopt/core/random.hpp"
#include "prefopt/core/types.hpp"
#include "prefopt/data/tokenize_pair.hpp"
#include "prefopt/model/packed_batch.hpp"

namespace prefopt {

enum class Shuffle { PerEpoch, None };
enum class LastBatch { Keep, Drop };  // TRL/transformers: dataloader_drop_last=False is Keep

struct BatcherOptions {
  index_t per_device_batch_size = 4;  // pairs per micro-batch (two sequences each)
  std::uint64_t seed = 42;
  Shuffle shuffle = Shuffle::PerEpoch;
  LastBatch last_batch = LastBatch::Keep;
  index_t rank = 0, world_size = 1;
};

/// Everything needed to resume: save it with a checkpoint, pass it to Batcher::restore().
struct BatcherState {
  std::uint64_t seed = 0;
  index_t epoch = 0;     // current epoch (0-based)
  index_t position = 0;  // micro-batches of this rank already handed out in `epoch`
  index_t n_pairs = 0;   // checked on restore: a different pair list would silently change the order

  friend bool operator==(const BatcherState& a, const BatcherState& b) {
    return a.seed == b.seed && a.epoch == b.epoch && a.position == b.position && a.n_pairs == b.n_pairs;
  }
};

class Batcher {
 public:
  Batcher(index_t n_pairs, const BatcherOptions& options) : n_(n_pairs), options_(options) {
    PREFOPT_CHECK(n_pairs >= 0, "Batcher: n_pairs must be >= 0, got ", n_pairs);
    PREFOPT_CHECK(options.per_device_batch_size >= 1, "Batcher: per_device_batch_size must be >= 1, got ",
                  options.per_device_batch_size);
    PREFOPT_CHECK(options.world_size >= 1 && options.rank >= 0 && options.rank < options.world_size,
                  "Batcher: need 0 <= rank < world_size, got rank ", options.rank, " of ", options.world_size);
    state_.seed = options.seed;
    state_.n_pairs = n_pairs;
  }

  index_t n_pairs() const noexcept { return n_; }
  const BatcherOptions& options() const noexcept { return options_; }

  /// The permutation of epoch `epoch` (identity under Shuffle::None).
  std::vector<index_t> epoch_order(index_t epoch) const {
    if (options_.shuffle == Shuffle::PerEpoch) return random_permutation(n_, epoch_seed(state_.seed, epoch));
    std::vector<index_t> order(static_cast<std::size_t>(n_));
    std::iota(order.begin(), order.end(), index_t{0});
    return order;
  }

  /// Micro-batches this rank gets per epoch.
  index_t micro_batches_per_epoch() const noexcept {
    index_t count = n_ / global_batch();
    if (options_.last_batch == LastBatch::Keep) {
      const auto [first, last] = tail_range(n_ % global_batch());
      count += last > first;
    }
    return count;
  }

  /// Pair indices of this rank's micro-batch `b` of epoch `epoch` (random access; next() is the
  /// usual way).
  std::vector<index_t> micro_batch(index_t epoch, index_t b) const {
    return slice(epoch_order(epoch), b);
  }
  /// The same from an epoch_order() the caller keeps (no reshuffle per call).
  std::vector<index_t> micro_batch_of(const std::vector<index_t>& order, index_t b) const {
    PREFOPT_CHECK(static_cast<index_t>(order.size()) == n_, "Batcher::micro_batch_of: the order has ", order.size(),
                  " entries, expected ", n_);
    return slice(order, b);
  }
  /// Micro-batches per epoch of the rank that gets the most (ranks with fewer run empty
  /// micro-batches at the end of an epoch, so every rank takes the same optimizer steps).
  index_t max_micro_batches_per_epoch() const noexcept {
    return n_ / global_batch() + (options_.last_batch == LastBatch::Keep && n_ % global_batch() > 0 ? 1 : 0);
  }

  /// Fills `pair_indices` with the next micro-batch of the current epoch and returns true; at the
  /// end of the epoch returns false, and the state moves to position 0 of the next epoch.
  bool next(std::vector<index_t>& pair_indices) {
    if (state_.position >= micro_batches_per_epoch()) {
      ++state_.epoch;
      state_.position = 0;
      return false;
    }
    if (cached_epoch_ != state_.epoch) {
      order_ = epoch_order(state_.epoch);
      cached_epoch_ = state_.epoch;
    }
    pair_indices = slice(order_, state_.position);
    ++state_.position;
    return true;
  }

  BatcherState state() const noexcept { return state_; }
  /// Continues from a saved state (its seed replaces options().seed). Throws ArgumentError when it was saved for another number of
  /// pairs or lies past the end of its epoch.
  void restore(const BatcherState& state) {
    PREFOPT_CHECK(state.n_pairs == n_, "Batcher::restore: the state is for ", state.n_pairs, " pairs, this batcher has ",
                  n_);
    PREFOPT_CHECK(state.epoch >= 0 && state.position >= 0 && state.position <= micro_batches_per_epoch(),
                  "Batcher::restore: epoch ", state.epoch, " position ", state.position, " is outside an epoch of ",
                  micro_batches_per_epoch(), " micro-batches");
    state_ = state;
    options_.seed = state.seed;
    cached_epoch_ = -1;
  }

  /// The seed of epoch `epoch`'s shuffle: both inputs are passed through SplitMix64 so that
  /// nearby seeds and epochs give unrelated streams (SplitMix64 streams whose states differ by a
  /// multiple of its increment would overlap).
  static std::uint64_t epoch_seed(std::uint64_t seed, index_t epoch) noexcept {
    Random a(seed), b(static_cast<std::uint64_t>(epoch) ^ 0x6A09E667F3BCC909ull);
    return Random(a.next_u64() ^ (b.next_u64() << 1)).next_u64();
  }

 private:
  index_t global_batch() const noexcept { return options_.world_size * options_.per_device_batch_size; }
  // This rank's share [first, last) of a tail of `tail` pairs: ranks get floor or ceil of tail/W.
  std::pair<index_t, index_t> tail_range(index_t tail) const noexcept {
    const index_t w = options_.world_size, r = options_.rank;
    return {r * tail / w, (r + 1) * tail / w};
  }
  std::vector<index_t> slice(const std::vector<index_t>& order, index_t b) const {
    PREFOPT_CHECK(b >= 0 && b < micro_batches_per_epoch(), "Batcher: micro-batch ", b, " is outside an epoch of ",
                  micro_batches_per_epoch());
    const index_t global = global_batch();
    const index_t full = n_ / global;
    index_t first, last;
    if (b < full) {
      first = b * global + options_.rank * options_.per_device_batch_size;
      last = first + options_.per_device_batch_size;
    } else {
      const auto [lo, hi] = tail_range(n_ % global);
      first = full * global + lo;
      last = full * global + hi;
    }
    return std::vector<index_t>(order.begin() + first, order.begin() + last);
  }

  index_t n_;
  BatcherOptions options_;
  BatcherState state_;
  std::vector<index_t> order_;  // permutation of cached_epoch_
  index_t cached_epoch_ = -1;
};

/// Appends the pair's two sequences to `batch`: prompt + chosen, then prompt + rejected, each
/// with score_from = prompt length, so exactly the completion tokens are scored (packed_batch.hpp).
/// Throws ArgumentError when the prompt or a completion is empty.
inline void append_pair(PackedBatch& batch, const TokenizedPair& pair) {
  PREFOPT_CHECK(!pair.prompt_ids.empty() && !pair.chosen_ids.empty() && !pair.rejected_ids.empty(),
                "append_pair: prompt and completions must have tokens (prompt ", pair.prompt_ids.size(), ", chosen ",
                pair.chosen_ids.size(), ", rejected ", pair.rejected_ids.size(), ")");
  std::vector<token_t> sequence;
  sequence.reserve(pair.prompt_ids.size() + std::max(pair.chosen_ids.size(), pair.rejected_ids.size()));
  for (const std::vector<token_t>* completion : {&pair.chosen_ids, &pair.rejected_ids}) {
    sequence.assign(pair.prompt_ids.begin(), pair.prompt_ids.end());
    sequence.insert(sequence.end(), completion->begin(), completion->end());
    batch.add_sequence(sequence, static_cast<index_t>(pair.prompt_ids.size()));
  }
}

/// Clears `batch` and fills it with the pairs `indices` of `pairs`, in that order: sequence 2k is
/// pair k's chosen, 2k + 1 its rejected.
inline void fill_micro_batch(PackedBatch& batch, const std::vector<TokenizedPair>& pairs,
                             const std::vector<index_t>& indices) {
  batch.clear();
  for (index_t i : indices) {
    PREFOPT_CHECK(i >= 0 && i < static_cast<index_t>(pairs.size()), "fill_micro_batch: pair index ", i,
                  " outside [0, ", pairs.size(), ")");
    append_pair(batch, pairs[static_cast<std::size_t>(i)]);
  }
}

}  // namespace prefopt
