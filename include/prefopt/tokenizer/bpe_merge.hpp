// SPDX-License-Identifier: MIT
// Byte-pair merging of one pre-tokenized piece, on integer symbol ids. The rule is GPT-2's
// (OpenAI gpt-2 src/encoder.py, Encoder.bpe): among the adjacent pairs that have a merge, take the
// one of lowest rank (its line in merges.txt), merge all its occurrences left to right without
// overlap ("aaa" with the merge "a a" gives "aa" "a"), and repeat until no pair has a merge.
//
// Two implementations of that rule:
//   - bpe_merge_scan: the rule as written, O(n) per merge step (so O(n^2) per piece), with flat
//     arrays; fastest for the short pieces that make up almost all text.
//   - bpe_merge_heap: a linked list and a min-heap of (rank, position), O(n log n); used for long
//     pieces (a 100 kB run of spaces is one piece). It merges pairs of equal rank leftmost first,
//     which is the rule above whenever no merge creates a pair of lower or equal rank than its
//     own; MergeTable::well_ordered() checks that property (it holds for GPT-2's merges, as it
//     does for any table learned by BPE training), and the heap is only used when it holds.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <utility>
#include <vector>

#include "prefopt/core/types.hpp"

namespace prefopt {

/// A merge of two adjacent symbols: its rank (lower merges first) and the id of the result.
struct MergeRule {
  std::int32_t rank;
  token_t merged;
};

/// (left id, right id) -> MergeRule, an open-addressing hash table keyed by the id pair.
class MergeTable {
 public:
  static constexpr std::int32_t no_rank = std::numeric_limits<std::int32_t>::max();

  /// Adds or replaces the rule for (left, right); ids must be >= 0. A later rule for the same pair
  /// replaces the earlier one, as in encoder.py's dict(zip(bpe_merges, range(...))).
  void insert(token_t left, token_t right, MergeRule rule) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    Slot& slot = find_slot(key(left, right));
    if (slot.key == empty_key) ++size_;
    slot = Slot{key(left, right), rule};
  }

  /// The rule for (left, right), or {no_rank, -1}.
  MergeRule find(token_t left, token_t right) const noexcept {
    if (slots_.empty()) return {no_rank, -1};
    const std::uint64_t k = key(left, right);
    for (std::size_t i = hash(k);; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.key == k) return slot.rule;
      if (slot.key == empty_key) return {no_rank, -1};
    }
  }

  std::size_t size() const noexcept { return size_; }

  /// Whether every rule's rank is above the ranks of all rules that produce its two inputs, so that
  /// no merge can create a pair that should have merged before it (see the file comment).
  /// `n_tokens` bounds the ids. O(size).
  bool well_ordered(std::size_t n_tokens) const {
    std::vector<std::int32_t> produced_at(n_tokens, -1);  // highest rank producing each token
    for (const Slot& s : slots_) {
      if (s.key == empty_key) continue;
      std::int32_t& p = produced_at[static_cast<std::size_t>(s.rule.merged)];
      p = std::max(p, s.rule.rank);
    }
    for (const Slot& s : slots_) {
      if (s.key == empty_key) continue;
      const auto left = static_cast<std::size_t>(s.key >> 32), right = static_cast<std::size_t>(s.key & 0xFFFFFFFFu);
      if (produced_at[left] >= s.rule.rank || produced_at[right] >= s.rule.rank) return false;
    }
    return true;
  }

 private:
  struct Slot {
    std::uint64_t key;
    MergeRule rule;
  };
  static constexpr std::uint64_t empty_key = ~std::uint64_t{0};  // ids are < 2^31

  static std::uint64_t key(token_t left, token_t right) noexcept {
    return (std::uint64_t(std::uint32_t(left)) << 32) | std::uint32_t(right);
  }
  std::size_t hash(std::uint64_t k) const noexcept {
    return static_cast<std::size_t>((k * 0x9E3779B97F4A7C15ull) >> shift_);  // Fibonacci hashing
  }
  Slot& find_slot(std::uint64_t k) {
    for (std::size_t i = hash(k);; i = (i + 1) & mask_)
      if (slots_[i].key == k || slots_[i].key == empty_key) return slots_[i];
  }
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    const std::size_t capacity = old.empty() ? 1024 : old.size() * 2;
    slots_.assign(capacity, Slot{empty_key, {no_rank, -1}});
    mask_ = capacity - 1;
    shift_ = 64;
    for (std::size_t c = capacity; c > 1; c >>= 1) --shift_;
    for (const Slot& s : old)
      if (s.key != empty_key) find_slot(s.key) = s;
  }

  std::vector<Slot> slots_;
  std::size_t size_ = 0;
  std::size_t mask_ = 0;
  int shift_ = 64;
};

/// Buffers reused across calls of the merge functions.
struct BpeScratch {
  std::vector<MergeRule> pair_rules;  // scan: rule of (symbols[k], symbols[k+1])
  struct Node {
    token_t symbol;  // -1 once merged into its left neighbour
    std::int32_t prev, next;
  };
  std::vector<Node> nodes;  // heap: linked list over the original positions
  struct Candidate {
    std::int32_t rank, left;  // left = position of the pair's left symbol
    token_t left_symbol, right_symbol, merged;
    bool operator>(const Candidate& o) const noexcept {
      return rank != o.rank ? rank > o.rank : left > o.left;
    }
  };
  std::vector<Candidate> heap;
};

/// Merges `symbols` in place by GPT-2's rule, scanning for the lowest-ranked pair at every step.
inline void bpe_merge_scan(const MergeTable& table, std::vector<token_t>& symbols, BpeScratch& scratch) {
  std::size_t n = symbols.size();
  if (n < 2) return;
  std::vector<MergeRule>& rules = scratch.pair_rules;
  rules.resize(n - 1);
  for (std::size_t k = 0; k + 1 < n; ++k) rules[k] = table.find(symbols[k], symbols[k + 1]);
  constexpr std::int32_t stale = -1;  // a pair whose rule must be looked up again
  while (n > 1) {
    std::size_t first = 0;
    for (std::size_t k = 1; k + 1 < n; ++k)
      if (rules[k].rank < rules[first].rank) first = k;
    const MergeRule best = rules[first];
    if (best.rank == MergeTable::no_rank) break;
    const token_t a = symbols[first], b = symbols[first + 1];
    // Merge every occurrence of (a, b) from `first` on, left to right; there is none before it.
    // A copied symbol keeps its pair's rule (its right neighbour is copied too, or is the start of
    // a merge, which marks the pair stale).
    std::size_t out = first;
    for (std::size_t k = first; k < n; ++out) {
      if (k + 1 < n && symbols[k] == a && symbols[k + 1] == b) {
        symbols[out] = best.merged;
        rules[out].rank = stale;
        if (out > 0) rules[out - 1].rank = stale;
        k += 2;
      } else {
        symbols[out] = symbols[k];
        if (k + 1 < n) rules[out] = rules[k];
        k += 1;
      }
    }
    n = out;
    for (std::size_t k = 0; k + 1 < n; ++k)
      if (rules[k].rank == stale) rules[k] = table.find(symbols[k], symbols[k + 1]);
  }
  symbols.resize(n);
}

/// Merges `symbols` in place, lowest rank first and leftmost first among equal ranks, with a heap.
/// Equals bpe_merge_scan when table.well_ordered().
inline void bpe_merge_heap(const MergeTable& table, std::vector<token_t>& symbols, BpeScratch& scratch) {
  const std::size_t n = symbols.size();
  if (n < 2) return;
  using Candidate = BpeScratch::Candidate;
  auto& nodes = scratch.nodes;
  auto& heap = scratch.heap;
  nodes.resize(n);
  heap.clear();
  const auto greater = std::greater<Candidate>();
  const auto push_pair = [&](std::int32_t left) {
    if (left < 0 || nodes[left].next < 0) return;
    const token_t a = nodes[left].symbol, b = nodes[nodes[left].next].symbol;
    const MergeRule r = table.find(a, b);
    if (r.rank == MergeTable::no_rank) return;
    heap.push_back(Candidate{r.rank, left, a, b, r.merged});
    std::push_heap(heap.begin(), heap.end(), greater);
  };
  for (std::size_t k = 0; k < n; ++k)
    nodes[k] = {symbols[k], static_cast<std::int32_t>(k) - 1, k + 1 < n ? static_cast<std::int32_t>(k + 1) : -1};
  for (std::size_t k = 0; k + 1 < n; ++k) push_pair(static_cast<std::int32_t>(k));
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), greater);
    const Candidate c = heap.back();
    heap.pop_back();
    // A candidate is stale once either symbol took part in another merge: symbols only grow, so
    // an unchanged pair of ids at the same place means the pair is still there.
    BpeScratch::Node& left = nodes[c.left];
    if (left.symbol != c.left_symbol || left.next < 0 || nodes[left.next].symbol != c.right_symbol) continue;
    BpeScratch::Node& right = nodes[left.next];
    left.symbol = c.merged;
    right.symbol = -1;
    left.next = right.next;
    if (right.next >= 0) nodes[right.next].prev = c.left;
    push_pair(left.prev);
    push_pair(c.left);
  }
  std::size_t out = 0;
  for (std::int32_t k = 0; k >= 0; k = nodes[k].next) symbols[out++] = nodes[k].symbol;
  symbols.resize(out);
}

}  // namespace prefopt
