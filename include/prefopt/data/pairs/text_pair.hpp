// SPDX-License-Identifier: MIT
// TextPair, the output of a pair builder, and the PairBuilder requirements:
//   static constexpr std::string_view name;
//   std::optional<TextPair> build(const Record& record, DropLog& drops) const;
// build() returns zero or one pair per record; when it returns none it has counted the reason in
// `drops`. A record without a field the builder needs is a data error: build() throws FieldError
// (record.hpp), which the pair stage (pair_stage.hpp) counts instead under BadRecords::Skip.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "prefopt/data/drop_log.hpp"
#include "prefopt/data/record.hpp"

namespace prefopt {

/// One preference pair as text: the completions do not repeat the prompt.
struct TextPair {
  std::string prompt, chosen, rejected;

  friend bool operator==(const TextPair& a, const TextPair& b) {
    return a.prompt == b.prompt && a.chosen == b.chosen && a.rejected == b.rejected;
  }
  friend bool operator!=(const TextPair& a, const TextPair& b) { return !(a == b); }
};

namespace detail {
template <class B, class = void>
struct is_pair_builder : std::false_type {};
template <class B>
struct is_pair_builder<
    B, std::void_t<decltype(std::string_view(B::name)),
                   decltype(std::declval<const B&>().build(std::declval<const Record&>(), std::declval<DropLog&>()))>>
    : std::is_same<decltype(std::declval<const B&>().build(std::declval<const Record&>(), std::declval<DropLog&>())),
                   std::optional<TextPair>> {};
}  // namespace detail

/// Whether B models PairBuilder (see the top of this header).
template <class B>
inline constexpr bool is_pair_builder_v = detail::is_pair_builder<B>::value;

}  // namespace prefopt
