// SPDX-License-Identifier: MIT
// TokenCache: lookups by bytes, the entry cap (cleared when reached), pieces too long to cache.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "prefopt/tokenizer/token_cache.hpp"

using namespace prefopt;

TEST_CASE("the token cache returns what was inserted, by bytes", "[tokenizer][cache]") {
  TokenCache cache(1000);
  std::vector<token_t> out;
  CHECK_FALSE(cache.append_if_cached("the", TokenCache::hash("the"), out));
  for (int i = 0; i < 1000; ++i) {
    const std::string key = "piece" + std::to_string(i);
    const token_t ids[] = {i, i + 1, i + 2};
    cache.insert(key, TokenCache::hash(key), ids, static_cast<std::size_t>(i % 3) + 1);
  }
  CHECK(cache.size() == 1000);
  for (int i = 0; i < 1000; ++i) {
    const std::string key = "piece" + std::to_string(i);
    out.assign({-7});
    REQUIRE(cache.append_if_cached(key, TokenCache::hash(key), out));
    std::vector<token_t> expected{-7};
    for (int k = 0; k <= i % 3; ++k) expected.push_back(i + k);
    REQUIRE(out == expected);  // appended after what was there
  }
  CHECK_FALSE(cache.append_if_cached("piece1000", TokenCache::hash("piece1000"), out));
  // A hash collision with different bytes is not a hit.
  CHECK_FALSE(cache.append_if_cached("piece-x", TokenCache::hash("piece1"), out));
}

TEST_CASE("the token cache clears itself at its cap and skips long pieces", "[tokenizer][cache]") {
  TokenCache cache(4);
  const token_t id = 5;
  for (int i = 0; i < 4; ++i) cache.insert(std::to_string(i), TokenCache::hash(std::to_string(i)), &id, 1);
  CHECK(cache.size() == 4);
  cache.insert("x", TokenCache::hash("x"), &id, 1);  // full: cleared first
  CHECK(cache.size() == 1);
  std::vector<token_t> out;
  CHECK_FALSE(cache.append_if_cached("0", TokenCache::hash("0"), out));
  CHECK(cache.append_if_cached("x", TokenCache::hash("x"), out));
  const std::string long_piece(TokenCache::max_piece_bytes + 1, 'a');
  cache.insert(long_piece, TokenCache::hash(long_piece), &id, 1);
  CHECK_FALSE(cache.append_if_cached(long_piece, TokenCache::hash(long_piece), out));
  TokenCache off(0);
  off.insert("x", TokenCache::hash("x"), &id, 1);
  CHECK(off.size() == 0);
}
