// SPDX-License-Identifier: MIT
// The merge rule (encoder.py's Encoder.bpe) on toy tables, the scan and heap algorithms against
// each other on GPT-2's table, and every GPT-2 token reachable from its own bytes.
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "prefopt/tokenizer/bpe_merge.hpp"
#include "tokenizer_test_support.hpp"

using namespace prefopt;
using namespace prefopt::test;

namespace {
using Ids = std::vector<token_t>;

Ids merge_scan(const MergeTable& t, Ids symbols) {
  BpeScratch scratch;
  bpe_merge_scan(t, symbols, scratch);
  return symbols;
}
Ids merge_heap(const MergeTable& t, Ids symbols) {
  BpeScratch scratch;
  bpe_merge_heap(t, symbols, scratch);
  return symbols;
}
}  // namespace

TEST_CASE("MergeTable finds, replaces and misses pairs", "[tokenizer][bpe]") {
  MergeTable t;
  CHECK(t.find(0, 0).rank == MergeTable::no_rank);
  for (token_t i = 0; i < 3000; ++i) t.insert(i, i + 1, MergeRule{i, 10000 + i});  // forces growth
  CHECK(t.size() == 3000);
  CHECK(t.find(17, 18).merged == 10017);
  CHECK(t.find(18, 17).rank == MergeTable::no_rank);
  t.insert(17, 18, MergeRule{5000, 42});  // a later rule for the same pair replaces it
  CHECK(t.size() == 3000);
  CHECK(t.find(17, 18).rank == 5000);
}

TEST_CASE("the lowest-ranked pair merges everywhere, left to right, without overlap", "[tokenizer][bpe]") {
  // Symbols: a=0 b=1 c=2; merges: (a a)->aa=3 rank 0, (aa a)->aaa=4 rank 1, (b c)->bc=5 rank 2,
  // (a bc)->abc=6 rank 3.
  MergeTable t;
  t.insert(0, 0, {0, 3});
  t.insert(3, 0, {1, 4});
  t.insert(1, 2, {2, 5});
  t.insert(0, 5, {3, 6});
  CHECK(t.well_ordered(7));
  for (auto merge : {merge_scan, merge_heap}) {
    CHECK(merge(t, {0, 0, 0}) == Ids{4});           // aa a -> aaa
    CHECK(merge(t, {0, 0, 0, 0}) == Ids{3, 3});     // aa aa: (aa a) needs a lone a
    CHECK(merge(t, {0, 0, 0, 0, 0}) == Ids{3, 4});  // aa aa a -> aa aaa (rank 1 after rank 0)
    CHECK(merge(t, {0, 1, 2}) == Ids{6});
    CHECK(merge(t, {2, 1}) == Ids{2, 1});
    CHECK(merge(t, {1}) == Ids{1});
    CHECK(merge(t, {}) == Ids{});
  }
}

TEST_CASE("well_ordered spots a merge that creates a lower-ranked pair", "[tokenizer][bpe]") {
  MergeTable t;
  t.insert(0, 1, {5, 3});  // a b -> ab at rank 5
  t.insert(3, 2, {1, 4});  // ab c -> abc at rank 1: uses ab before ab exists
  CHECK_FALSE(t.well_ordered(5));
  // GPT-2's rule (scan): a b c -> ab c (rank 5) -> abc (rank 1).
  CHECK(merge_scan(t, {0, 1, 2}) == Ids{4});
}

TEST_CASE("GPT-2's merges are well ordered, so the heap merge may be used", "[tokenizer][bpe]") {
  const BpeVocabulary& v = gpt2_tokenizer().vocabulary();
  CHECK(v.merges.size() == 50000);
  CHECK(v.merges_well_ordered);
}

TEST_CASE("the heap merge equals the scan merge on GPT-2's table", "[tokenizer][bpe]") {
  const BpeVocabulary& v = gpt2_tokenizer().vocabulary();
  std::mt19937 rng(3);
  // Byte strings from small alphabets (long runs of merges) and from text-like bytes.
  const std::string alphabets[] = {"a", "ab", "ab ", " ", "\n ", "=-", "0123456789", "etaoin shrdlu",
                                   "the quick brown fox", "\xE6\x97\xA5\xE6\x9C\xAC"};
  int compared = 0;
  for (const std::string& alphabet : alphabets) {
    for (int trial = 0; trial < 40; ++trial) {
      const std::size_t n = 1 + rng() % 600;
      Ids symbols(n);
      for (auto& s : symbols) s = v.byte_tokens[static_cast<unsigned char>(alphabet[rng() % alphabet.size()])];
      const Ids scan = merge_scan(v.merges, symbols);
      const Ids heap = merge_heap(v.merges, symbols);
      CAPTURE(alphabet, n);
      REQUIRE(scan == heap);
      ++compared;
    }
  }
  CHECK(compared == 400);
}

TEST_CASE("every GPT-2 token is what BPE makes of its own bytes", "[tokenizer][bpe]") {
  // So a piece that is a whole token needs no merging (tiktoken's shortcut is exact for GPT-2).
  const BpeVocabulary& v = gpt2_tokenizer().vocabulary();
  BpeScratch scratch;
  Ids symbols;
  std::vector<token_t> unreachable;
  for (token_t id = 0; id < static_cast<token_t>(v.token_bytes.size()); ++id) {
    if (id == v.eos_token_id) continue;
    const std::string& bytes = v.token_bytes[static_cast<std::size_t>(id)];
    symbols.clear();
    for (const char c : bytes) symbols.push_back(v.byte_tokens[static_cast<unsigned char>(c)]);
    bpe_merge_scan(v.merges, symbols, scratch);
    if (symbols != Ids{id}) unreachable.push_back(id);
  }
  CAPTURE(unreachable.size());
  CHECK(unreachable.empty());
}
