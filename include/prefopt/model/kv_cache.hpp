// SPDX-License-Identifier: MIT
// KvCache<Device, Scalar>: the keys and values of every layer for a batch of sequences being
// generated, so that each new token costs one position instead of the whole prefix
// (Gpt2::decode). It also owns the scratch buffers decode() works in; they only grow, so steady
// decoding allocates nothing.
//
// Layout (device memory, C = n_embd, B = batch_size slots):
//   keys, values (n_layer, B, max_len, C): layer l, slot b, position t at ((l*B + b)*max_len + t)*C;
//                 head h owns columns [h*head_dim, (h+1)*head_dim), as in the qkv rows
//   lengths (B, host): positions cached per slot; slot b's next token sits at position lengths[b]
#pragma once

#include <vector>

#include "prefopt/core/error.hpp"
#include "prefopt/core/types.hpp"
#include "prefopt/model/gpt2_config.hpp"

namespace prefopt {

template <class Device, class Scalar = float>
class KvCache {
 public:
  template <class T>
  using vector = typename Device::template vector<T>;

  /// Room for batch_size sequences of up to max_len positions each (max_len <= n_positions).
  KvCache(const Gpt2Config& config, index_t batch_size, index_t max_len)
      : config_(config), batch_(batch_size), max_len_(max_len) {
    config.validate();
    PREFOPT_CHECK(batch_size > 0, "KvCache: batch_size must be positive, got ", batch_size);
    PREFOPT_CHECK(max_len > 0 && max_len <= config.n_positions, "KvCache: max_len must be in [1, n_positions=",
                  config.n_positions, "], got ", max_len);
    const auto n = static_cast<std::size_t>(config.n_layer * batch_size * max_len * config.n_embd);
    keys_.resize(n);
    values_.resize(n);
    lengths_.assign(static_cast<std::size_t>(batch_size), 0);
  }

  const Gpt2Config& config() const noexcept { return config_; }
  index_t batch_size() const noexcept { return batch_; }
  index_t max_len() const noexcept { return max_len_; }

  /// Positions cached for slot b.
  index_t length(index_t b) const { return lengths_.at(static_cast<std::size_t>(b)); }
  const std::vector<index_t>& lengths() const noexcept { return lengths_; }

  /// Forgets every slot's positions (the buffers are kept for the next batch).
  void reset() { lengths_.assign(lengths_.size(), 0); }
  /// Forgets slot b's positions.
  void reset(index_t b) {
    PREFOPT_CHECK(b >= 0 && b < batch_, "KvCache::reset: slot ", b, " outside [0, ", batch_, ")");
    lengths_[static_cast<std::size_t>(b)] = 0;
  }

  /// Layer l's key / value cache, (B, max_len, C).
  Scalar* keys(index_t l) noexcept { return keys_.data() + l * layer_stride(); }
  Scalar* values(index_t l) noexcept { return values_.data() + l * layer_stride(); }
  const Scalar* keys(index_t l) const noexcept { return keys_.data() + l * layer_stride(); }
  const Scalar* values(index_t l) const noexcept { return values_.data() + l * layer_stride(); }

  /// Bytes of the key/value buffers plus the scratch currently held.
  std::size_t bytes() const noexcept {
    return (keys_.size() + values_.size() + scratch.size()) * sizeof(Scalar);
  }

  /// Marks n positions of slot b as written (Gpt2::decode calls it after appending them).
  void advance(index_t b, index_t n) {
    PREFOPT_CHECK(b >= 0 && b < batch_ && n >= 0 && length(b) + n <= max_len_, "KvCache::advance: slot ", b,
                  " cannot grow by ", n, " beyond max_len=", max_len_);
    lengths_[static_cast<std::size_t>(b)] += n;
  }

  // ---- decode() working memory (for the model; callers need not touch it) ----
  /// One arena of Scalars for a decode call, and its offsets (elements).
  vector<Scalar> scratch;
  struct ScratchLayout {
    index_t res = 0, ln = 0, mean = 0, rstd = 0, qkv = 0, atty = 0, proj = 0, fc = 0, scores = 0, sel = 0,
            lnf = 0, total = 0;
  } layout;
  /// Lays out the arena for N new rows in n sequences and `score_elems` attention scores; grows it
  /// only when it is too small.
  void prepare_scratch(index_t N, index_t n, index_t score_elems) {
    const index_t C = config_.n_embd, F = config_.mlp_width();
    index_t at = 0;
    auto take = [&at](index_t count) {  // 16-element (64-byte for float) alignment, as the arena
      const index_t begin = at;
      at += (count + 15) / 16 * 16;
      return begin;
    };
    layout.res = take(N * C); layout.ln = take(N * C); layout.mean = take(N); layout.rstd = take(N);
    layout.qkv = take(N * 3 * C); layout.atty = take(N * C); layout.proj = take(N * C);
    layout.fc = take(N * F); layout.scores = take(score_elems); layout.sel = take(n * C);
    layout.lnf = take(n * C);
    layout.total = at;
    if (static_cast<index_t>(scratch.size()) < layout.total) scratch.resize(static_cast<std::size_t>(layout.total));
  }
  /// Device copies of a decode call's ids and offsets, and their host staging vectors.
  vector<token_t> tokens_dev, positions_dev;
  vector<index_t> new_offsets_dev, slots_dev, past_dev, score_offsets_dev, last_rows_dev;
  std::vector<token_t> positions_host;
  std::vector<index_t> past_host, score_offsets_host, last_rows_host, step_offsets_host;

 private:
  index_t layer_stride() const noexcept { return batch_ * max_len_ * config_.n_embd; }

  Gpt2Config config_;
  index_t batch_ = 0, max_len_ = 0;
  vector<Scalar> keys_, values_;
  std::vector<index_t> lengths_;
};

}  // namespace prefopt
