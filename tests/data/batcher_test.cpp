// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>
#include <set>
#include <vector>

#include "prefopt/data/batcher.hpp"

using namespace prefopt;

namespace {

BatcherOptions options_for(index_t batch, std::uint64_t seed = 42, index_t rank = 0, index_t world = 1,
                           LastBatch last = LastBatch::Keep) {
  BatcherOptions o;
  o.per_device_batch_size = batch;
  o.seed = seed;
  o.rank = rank;
  o.world_size = world;
  o.last_batch = last;
  return o;
}

// Every micro-batch of one epoch, via next().
std::vector<std::vector<index_t>> one_epoch(Batcher& batcher) {
  std::vector<std::vector<index_t>> batches;
  std::vector<index_t> indices;
  while (batcher.next(indices)) batches.push_back(indices);
  return batches;
}

std::vector<index_t> flatten(const std::vector<std::vector<index_t>>& batches) {
  std::vector<index_t> all;
  for (const auto& b : batches) all.insert(all.end(), b.begin(), b.end());
  return all;
}

}  // namespace

TEST_CASE("each epoch is a seeded permutation, the same on every run", "[data][batcher]") {
  Batcher a(1000, options_for(4)), b(1000, options_for(4));
  const auto e0 = a.epoch_order(0);
  CHECK(e0 == b.epoch_order(0));
  std::vector<index_t> sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  std::vector<index_t> identity(1000);
  std::iota(identity.begin(), identity.end(), index_t{0});
  CHECK(sorted == identity);
  CHECK(e0 != identity);
  CHECK(a.epoch_order(1) != e0);
  CHECK(Batcher(1000, options_for(4, 43)).epoch_order(0) != e0);
  // Pinned, from an independent Python re-implementation of SplitMix64, epoch_seed and
  // Fisher-Yates: a change of the shuffle (and so of every run's order) must be deliberate.
  CHECK(std::vector<index_t>(e0.begin(), e0.begin() + 5) == std::vector<index_t>{438, 806, 854, 508, 942});
  CHECK(Batcher(10, options_for(4)).epoch_order(1) == std::vector<index_t>{7, 6, 2, 4, 9, 0, 3, 8, 1, 5});
}

TEST_CASE("next() walks an epoch in micro-batches and stops at its end", "[data][batcher]") {
  Batcher batcher(10, options_for(4));
  CHECK(batcher.micro_batches_per_epoch() == 3);
  const auto epoch0 = one_epoch(batcher);
  REQUIRE(epoch0.size() == 3);
  CHECK(epoch0[0].size() == 4);
  CHECK(epoch0[2].size() == 2);  // LastBatch::Keep
  CHECK(flatten(epoch0) == batcher.epoch_order(0));
  CHECK(batcher.state().epoch == 1);
  CHECK(batcher.state().position == 0);
  CHECK(flatten(one_epoch(batcher)) == batcher.epoch_order(1));

  Batcher dropping(10, options_for(4, 42, 0, 1, LastBatch::Drop));
  CHECK(dropping.micro_batches_per_epoch() == 2);
  CHECK(one_epoch(dropping).size() == 2);

  BatcherOptions ordered = options_for(3);
  ordered.shuffle = Shuffle::None;
  Batcher in_order(7, ordered);
  CHECK(one_epoch(in_order) == std::vector<std::vector<index_t>>{{0, 1, 2}, {3, 4, 5}, {6}});
}

TEST_CASE("a batcher restored mid-epoch continues exactly as an uninterrupted one", "[data][batcher]") {
  Batcher uninterrupted(103, options_for(4, 7));
  std::vector<std::vector<index_t>> expected;
  for (int epoch = 0; epoch < 3; ++epoch)
    for (const auto& b : one_epoch(uninterrupted)) expected.push_back(b);

  Batcher first(103, options_for(4, 7));
  std::vector<std::vector<index_t>> got;
  std::vector<index_t> indices;
  for (int k = 0; k < 40; ++k) {  // into epoch 1 (26 micro-batches per epoch)
    if (!first.next(indices)) REQUIRE(first.next(indices));
    got.push_back(indices);
  }
  const BatcherState saved = first.state();
  CHECK(saved.epoch == 1);
  CHECK(saved.position == 14);
  CHECK(saved.seed == 7);

  Batcher resumed(103, options_for(4, 999));  // the state's seed wins
  resumed.restore(saved);
  CHECK(resumed.state() == saved);
  while (static_cast<index_t>(got.size()) < static_cast<index_t>(expected.size())) {
    if (!resumed.next(indices)) continue;
    got.push_back(indices);
  }
  CHECK(got == expected);

  CHECK_THROWS_AS(Batcher(104, options_for(4)).restore(saved), ArgumentError);
  BatcherState past = saved;
  past.position = 27;
  CHECK_THROWS_AS(Batcher(103, options_for(4)).restore(past), ArgumentError);
}

TEST_CASE("shards are disjoint, deterministic and cover every pair", "[data][batcher]") {
  for (const index_t n : {0, 1, 5, 64, 67, 101}) {
    for (const index_t world : {1, 2, 3, 4}) {
      CAPTURE(n, world);
      std::vector<index_t> all;
      index_t most = 0, fewest = n;
      for (index_t rank = 0; rank < world; ++rank) {
        Batcher shard(n, options_for(4, 5, rank, world));
        const auto batches = one_epoch(shard);
        CHECK(static_cast<index_t>(batches.size()) == shard.micro_batches_per_epoch());
        for (const auto& b : batches) CHECK((b.size() >= 1 && b.size() <= 4));
        const auto mine = flatten(batches);
        most = std::max<index_t>(most, mine.size());
        fewest = std::min<index_t>(fewest, mine.size());
        all.insert(all.end(), mine.begin(), mine.end());
        Batcher again(n, options_for(4, 5, rank, world));
        CHECK(flatten(one_epoch(again)) == mine);
      }
      std::sort(all.begin(), all.end());
      std::vector<index_t> identity(static_cast<std::size_t>(n));
      std::iota(identity.begin(), identity.end(), index_t{0});
      CHECK(all == identity);       // disjoint and covering
      CHECK(most - fewest <= 4);    // balanced within one micro-batch
    }
  }
}

TEST_CASE("LastBatch::Drop gives every shard the same number of full micro-batches", "[data][batcher]") {
  std::set<index_t> seen;
  for (index_t rank = 0; rank < 3; ++rank) {
    Batcher shard(50, options_for(4, 5, rank, 3, LastBatch::Drop));
    const auto batches = one_epoch(shard);
    CHECK(batches.size() == 4);  // 50 / 12 global batches
    for (const auto& b : batches) {
      CHECK(b.size() == 4);
      for (index_t i : b) CHECK(seen.insert(i).second);
    }
  }
  CHECK(seen.size() == 48);
}

TEST_CASE("append_pair adds prompt+chosen then prompt+rejected, scoring completion tokens only", "[data][batcher]") {
  const TokenizedPair pair{{10, 11, 12}, {20, 21}, {30}};
  PackedBatch batch;
  append_pair(batch, pair);
  CHECK(batch.n_sequences() == 2);
  CHECK(batch.tokens == std::vector<token_t>{10, 11, 12, 20, 21, 10, 11, 12, 30});
  // Position t targets token t+1 when t+1 is a completion position: 12 -> 20, 20 -> 21.
  CHECK(batch.targets == std::vector<token_t>{no_target, no_target, 20, 21, no_target,  //
                                              no_target, no_target, 30, no_target});
  CHECK(batch.offsets == std::vector<index_t>{0, 5, 9});

  CHECK_THROWS_AS(append_pair(batch, TokenizedPair{{}, {1}, {2}}), ArgumentError);
  CHECK_THROWS_AS(append_pair(batch, TokenizedPair{{1}, {1}, {}}), ArgumentError);

  const std::vector<TokenizedPair> pairs = {pair, TokenizedPair{{1}, {2}, {3}}};
  fill_micro_batch(batch, pairs, {1, 0});
  CHECK(batch.n_sequences() == 4);
  CHECK(batch.tokens.front() == 1);
  CHECK(batch.length(0) == 2);
  CHECK(batch.length(2) == 5);
  CHECK_THROWS_AS(fill_micro_batch(batch, pairs, {2}), ArgumentError);
}

TEST_CASE("Batcher rejects impossible options", "[data][batcher]") {
  CHECK_THROWS_AS(Batcher(10, options_for(0)), ArgumentError);
  CHECK_THROWS_AS(Batcher(10, options_for(4, 1, 2, 2)), ArgumentError);
  CHECK_THROWS_AS(Batcher(-1, options_for(4)), ArgumentError);
}
