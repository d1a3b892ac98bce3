// SPDX-License-Identifier: MIT
// HhRlhfPreference: hh-rlhf's own preference pairs. Each row holds two whole conversations that
// share every turn but the last assistant answer. The prompt is the conversation up to and
// including the last "\n\nAssistant:" (Anthropic's convention, as in the DPO reference code's
// extract_anthropic_prompt and TRL's hh-rlhf scripts); the completions are the text after it,
// usually starting with a space (" Sure, ..."). Multi-turn rows are kept. A row whose two
// conversations differ before the last "\n\nAssistant:" is dropped (DropReason::PromptMismatch).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "prefopt/data/drop_log.hpp"
#include "prefopt/data/pairs/text_pair.hpp"
#include "prefopt/data/record.hpp"

namespace prefopt {

struct HhRlhfPreference {
  static constexpr std::string_view name = "hh-rlhf-preference";

  std::string assistant_tag = "\n\nAssistant:";
  std::string chosen_field = "chosen", rejected_field = "rejected";

  /// Throws FieldError when chosen or rejected is missing or not a string.
  std::optional<TextPair> build(const Record& record, DropLog& drops) const {
    const std::string& chosen = record.string_field(chosen_field);
    const std::string& rejected = record.string_field(rejected_field);
    const std::size_t chosen_at = chosen.rfind(assistant_tag);
    const std::size_t rejected_at = rejected.rfind(assistant_tag);
    if (chosen_at == std::string::npos || rejected_at == std::string::npos) {
      drops.add(DropReason::NoAssistantTurn, record.where());
      return std::nullopt;
    }
    const std::size_t prompt_size = chosen_at + assistant_tag.size();
    if (rejected_at + assistant_tag.size() != prompt_size || chosen.compare(0, prompt_size, rejected, 0, prompt_size) != 0) {
      drops.add(DropReason::PromptMismatch, record.where());
      return std::nullopt;
    }
    return TextPair{chosen.substr(0, prompt_size), chosen.substr(prompt_size), rejected.substr(prompt_size)};
  }
};

}  // namespace prefopt
