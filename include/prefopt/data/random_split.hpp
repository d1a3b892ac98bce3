// SPDX-License-Identifier: MIT
// A seeded held-out split: `count` items chosen by random_permutation (core/random.hpp) move out of
// a dataset, and both parts keep the dataset's order. The same seed and size give the same split on
// every platform, and the split draws from its own seed, so changing the training shuffle never
// moves it (the callers salt the run's seed for that).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "prefopt/core/error.hpp"
#include "prefopt/core/random.hpp"
#include "prefopt/core/types.hpp"

namespace prefopt {

/// Moves the items at the first `count` positions of random_permutation(items.size(), seed) out of
/// `items` and returns them; what stays and what is returned are each in their original order.
template <class T>
std::vector<T> split_off_random(std::vector<T>& items, std::size_t count, std::uint64_t seed) {
  if (count > items.size())
    throw ArgumentError("split_off_random: " + std::to_string(count) + " items asked of " +
                        std::to_string(items.size()));
  const std::vector<index_t> order = random_permutation(static_cast<index_t>(items.size()), seed);
  std::vector<char> chosen(items.size(), 0);
  for (std::size_t k = 0; k < count; ++k) chosen[static_cast<std::size_t>(order[k])] = 1;
  std::vector<T> kept, taken;
  kept.reserve(items.size() - count);
  taken.reserve(count);
  for (std::size_t i = 0; i < items.size(); ++i) (chosen[i] ? taken : kept).push_back(std::move(items[i]));
  items = std::move(kept);
  return taken;
}

}  // namespace prefopt
