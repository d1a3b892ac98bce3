// SPDX-License-Identifier: MIT
// TokenCache: pre-tokenized piece (bytes) -> its BPE token ids. Natural text repeats a small set of
// pieces (" the", " of", ".", "\n\n"), so most pieces skip BPE entirely. An open-addressing table
// over two arenas (piece bytes, ids): a lookup hashes the piece and compares bytes, without
// building a std::string; an insert appends to the arenas, so the steady state allocates nothing.
// When the entry cap is reached the whole cache is cleared (simpler than LRU, and the common
// pieces come back within a few rows). Not thread-safe; Gpt2Tokenizer guards it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "prefopt/core/types.hpp"

namespace prefopt {

class TokenCache {
 public:
  /// Pieces longer than this are not cached: they are rare, and their ids would crowd the arenas.
  static constexpr std::size_t max_piece_bytes = 128;

  /// The largest entry cap (it keeps the arena offsets within 32 bits).
  static constexpr std::size_t max_capacity = std::size_t{1} << 24;

  /// A cache that holds at most `max_entries` pieces (0 disables it; capped at max_capacity).
  /// Memory is taken on the first insert: about 48 bytes of table per entry plus the arenas.
  explicit TokenCache(std::size_t max_entries = std::size_t{1} << 15)
      : max_entries_(std::min(max_entries, max_capacity)) {}

  std::size_t max_entries() const noexcept { return max_entries_; }
  std::size_t size() const noexcept { return size_; }

  /// 64-bit hash of a piece (never 0, which marks an empty slot).
  static std::uint64_t hash(std::string_view piece) noexcept {
    const char* p = piece.data();
    std::size_t n = piece.size();
    std::uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xC2B2AE3D27D4EB4Full);
    while (n >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      h = (h ^ w) * 0xFF51AFD7ED558CCDull;
      h ^= h >> 32;
      p += 8;
      n -= 8;
    }
    if (n > 0) {
      std::uint64_t w = 0;
      std::memcpy(&w, p, n);
      h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
    }
    h ^= h >> 29;
    h *= 0x9E3779B97F4A7C15ull;
    h ^= h >> 32;
    return h | 1;
  }

  /// Appends the cached ids of `piece` (with hash `h`) to `out`; false when it is not cached.
  bool append_if_cached(std::string_view piece, std::uint64_t h, std::vector<token_t>& out) const {
    if (size_ == 0) return false;
    for (std::size_t i = slot_of(h);; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.hash == 0) return false;
      if (s.hash == h && s.key_length == piece.size() &&
          std::memcmp(keys_.data() + s.key_offset, piece.data(), piece.size()) == 0) {
        out.insert(out.end(), ids_.begin() + s.ids_offset, ids_.begin() + s.ids_offset + s.ids_length);
        return true;
      }
    }
  }

  /// Caches ids[0, count) for `piece` (hash `h`), which must not be cached yet.
  void insert(std::string_view piece, std::uint64_t h, const token_t* ids, std::size_t count) {
    if (max_entries_ == 0 || piece.size() > max_piece_bytes) return;
    if (slots_.empty()) {
      std::size_t capacity = 16;
      while (capacity < 2 * max_entries_) capacity *= 2;  // load factor <= 1/2
      slots_.assign(capacity, Slot{});
      mask_ = capacity - 1;
    }
    if (size_ == max_entries_) clear();
    std::size_t i = slot_of(h);
    while (slots_[i].hash != 0) i = (i + 1) & mask_;
    slots_[i] = Slot{h, static_cast<std::uint32_t>(keys_.size()), static_cast<std::uint32_t>(piece.size()),
                     static_cast<std::uint32_t>(ids_.size()), static_cast<std::uint32_t>(count)};
    keys_.append(piece.data(), piece.size());
    ids_.insert(ids_.end(), ids, ids + count);
    ++size_;
  }

  /// Forgets every entry; keeps the memory.
  void clear() {
    if (size_ == 0) return;
    std::fill(slots_.begin(), slots_.end(), Slot{});
    keys_.clear();
    ids_.clear();
    size_ = 0;
  }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    std::uint32_t key_offset = 0, key_length = 0;  // in keys_
    std::uint32_t ids_offset = 0, ids_length = 0;  // in ids_
  };

  // Bit 0 of a hash is always set (it marks a used slot), so the slot comes from the bits above it.
  std::size_t slot_of(std::uint64_t h) const noexcept { return static_cast<std::size_t>(h >> 1) & mask_; }

  std::size_t max_entries_;
  std::size_t size_ = 0;
  std::size_t mask_ = 0;
  std::vector<Slot> slots_;
  std::string keys_;          // bytes of the cached pieces; at most max_entries * 128 bytes
  std::vector<token_t> ids_;  // at most one id per cached byte
};

}  // namespace prefopt
