// SPDX-License-Identifier: MIT
// DropReason and DropLog: why a well-formed record made no training pair. Pair builders
// (data/pairs/) and the tokenization stage (tokenize_pair.hpp) count every pair they drop here;
// malformed records are a different matter (SkipReason in jsonl_reader.hpp).
#pragma once

#include <string_view>

#include "prefopt/data/reason_log.hpp"

namespace prefopt {

enum class DropReason {
  // LetMeExplain (the seed notebook's cells 2-3)
  MultiTurn,                // chosen or rejected contains "Human: " twice or more
  NoAssistantTurn,          // no "Assistant: " (LetMeExplain) / "\n\nAssistant:" (HhRlhfPreference)
  EmptyQuestion,            // the question is empty after removing "Human: " and stripping
  EmptyAnswer,              // the first assistant answer is empty after stripping
  AlreadyStartsWithPhrase,  // the answer already starts with "let me explain" (any case)
  // HhRlhfPreference
  PromptMismatch,           // chosen and rejected do not share the conversation before the last turn
  // tokenization (tokenize_pair.hpp)
  EmptyPrompt,              // the prompt encodes to no tokens: nothing to condition the completion on
  PromptTooLong,            // LengthPolicy::Filter: prompt tokens > max_prompt_length
  PairTooLong,              // LengthPolicy::Filter: prompt + chosen tokens > max_length
  CompletionTruncatedAway,  // LengthPolicy::Truncate: no room left for a completion token
};

constexpr std::string_view reason_name(DropReason reason) noexcept {
  switch (reason) {
    case DropReason::MultiTurn: return "multi-turn (\"Human: \" twice or more)";
    case DropReason::NoAssistantTurn: return "no assistant turn";
    case DropReason::EmptyQuestion: return "empty question";
    case DropReason::EmptyAnswer: return "empty answer";
    case DropReason::AlreadyStartsWithPhrase: return "answer already starts with the phrase";
    case DropReason::PromptMismatch: return "chosen and rejected prompts differ";
    case DropReason::EmptyPrompt: return "prompt has no tokens";
    case DropReason::PromptTooLong: return "prompt longer than max_prompt_length";
    case DropReason::PairTooLong: return "prompt + chosen longer than max_length";
    case DropReason::CompletionTruncatedAway: return "no room for the completion within max_length";
  }
  return "unknown drop reason";
}

using DropLog = ReasonLog<DropReason>;

}  // namespace prefopt
