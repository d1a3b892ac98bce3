// SPDX-License-Identifier: MIT
// JsonlPairs: rows that already are pairs, in TRL's standard (non-conversational) preference
// format with an explicit prompt: {"prompt": "...", "chosen": "...", "rejected": "..."}. The
// completions must not repeat the prompt. TRL's conversational format (lists of messages) needs a
// chat template and is not read here: such a field is a FieldError ("is not a string (found array)").
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "prefopt/data/drop_log.hpp"
#include "prefopt/data/pairs/text_pair.hpp"
#include "prefopt/data/record.hpp"

namespace prefopt {

struct JsonlPairs {
  static constexpr std::string_view name = "jsonl-pairs";

  std::string prompt_field = "prompt", chosen_field = "chosen", rejected_field = "rejected";

  /// Never drops; throws FieldError when a field is missing or not a string.
  std::optional<TextPair> build(const Record& record, DropLog& /*drops*/) const {
    return TextPair{record.string_field(prompt_field), record.string_field(chosen_field),
                    record.string_field(rejected_field)};
  }
};

}  // namespace prefopt
