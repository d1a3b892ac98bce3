// SPDX-License-Identifier: MIT
// split_off_random (data/random_split.hpp): the held-out split of the flagship example and of
// `prefopt dpo --eval-fraction`.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "prefopt/data/random_split.hpp"

using namespace prefopt;

TEST_CASE("split_off_random moves a seeded subset out and keeps both parts in order", "[data][split]") {
  std::vector<std::string> items;
  for (int i = 0; i < 10; ++i) items.push_back("pair " + std::to_string(i));
  // random_permutation(10, 7) = 8 1 5 9 0 4 3 2 6 7, from an independent Python re-implementation
  // of SplitMix64 and Durstenfeld's Fisher-Yates; its first three positions are the held-out items.
  CHECK(random_permutation(10, 7) == std::vector<index_t>{8, 1, 5, 9, 0, 4, 3, 2, 6, 7});
  std::vector<std::string> kept = items;
  const auto taken = split_off_random(kept, 3, 7);
  CHECK(taken == std::vector<std::string>{"pair 1", "pair 5", "pair 8"});
  CHECK(kept == std::vector<std::string>{"pair 0", "pair 2", "pair 3", "pair 4", "pair 6", "pair 7", "pair 9"});

  std::vector<std::string> again = items;
  CHECK(split_off_random(again, 3, 7) == taken);  // deterministic
  std::vector<std::string> other = items;
  CHECK(split_off_random(other, 3, 8) != taken);  // the seed decides

  std::vector<std::string> none = items;
  CHECK(split_off_random(none, 0, 7).empty());
  CHECK(none == items);
  std::vector<std::string> all = items;
  CHECK(split_off_random(all, 10, 7) == items);
  CHECK(all.empty());
}

TEST_CASE("split_off_random refuses more items than there are, naming both counts", "[data][split]") {
  std::vector<int> items = {1, 2, 3};
  CHECK_THROWS_WITH(split_off_random(items, 4, 1), Catch::Contains("4 items asked of 3"));
  CHECK(items == std::vector<int>{1, 2, 3});
  std::vector<int> empty;
  CHECK(split_off_random(empty, 0, 1).empty());
}
