// SPDX-License-Identifier: MIT
// LetMeExplain: the seed notebook's pairs (cells 2 and 3 of ../shared/seed/000_bb45ecff21c73357.txt),
// rule for rule, with Python's string semantics (python_str.hpp):
//   1. drop the row if chosen.count("Human: ") >= 2 or rejected.count("Human: ") >= 2;
//   2. parts = chosen.split("Assistant: "); fewer than 2 parts -> drop (the seed returns "", "");
//      question = parts[0].replace("Human: ", "").strip(); answer = parts[1].strip() — parts[1]
//      only, also when "Assistant: " occurs again later in the text;
//   3. drop when the question or the answer is empty, or answer.lower().startswith("let me explain");
//   4. prompt   = "### Question: " + question + "\n### Answer: "
//      chosen   = "Let me explain. " + answer + "<|endoftext|>"
//      rejected = answer + "<|endoftext|>"
// The rejected text of the row is only used by the multi-turn test of step 1.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "prefopt/data/drop_log.hpp"
#include "prefopt/data/pairs/text_pair.hpp"
#include "prefopt/data/python_str.hpp"
#include "prefopt/data/record.hpp"

namespace prefopt {

struct LetMeExplain {
  static constexpr std::string_view name = "let-me-explain";

  std::string phrase = "Let me explain. ";             // put before the answer in chosen
  std::string already_starts_with = "let me explain";  // ASCII; answers whose lower() starts with it are dropped
  std::string eos_text = "<|endoftext|>";              // the seed's tokenizer.eos_token
  std::string question_prefix = "### Question: ";
  std::string answer_prefix = "\n### Answer: ";
  std::string chosen_field = "chosen", rejected_field = "rejected";

  /// Throws FieldError when chosen or rejected is missing or not a string.
  std::optional<TextPair> build(const Record& record, DropLog& drops) const {
    static constexpr std::string_view human_tag = "Human: ";
    static constexpr std::string_view assistant_tag = "Assistant: ";
    const std::string& chosen = record.string_field(chosen_field);
    const std::string& rejected = record.string_field(rejected_field);
    if (python_str::count(chosen, human_tag) >= 2 || python_str::count(rejected, human_tag) >= 2)
      return drop(drops, DropReason::MultiTurn, record);

    const std::vector<std::string_view> parts = python_str::split(chosen, assistant_tag);
    if (parts.size() < 2) return drop(drops, DropReason::NoAssistantTurn, record);
    const std::string question_text = python_str::replace(parts[0], human_tag, "");
    const std::string_view question = python_str::strip(question_text);
    const std::string_view answer = python_str::strip(parts[1]);
    if (question.empty()) return drop(drops, DropReason::EmptyQuestion, record);
    if (answer.empty()) return drop(drops, DropReason::EmptyAnswer, record);
    if (python_str::lower_starts_with(answer, already_starts_with))
      return drop(drops, DropReason::AlreadyStartsWithPhrase, record);

    TextPair pair;
    pair.prompt.append(question_prefix).append(question).append(answer_prefix);
    pair.chosen.append(phrase).append(answer).append(eos_text);
    pair.rejected.append(answer).append(eos_text);
    return pair;
  }

 private:
  static std::optional<TextPair> drop(DropLog& drops, DropReason reason, const Record& record) {
    drops.add(reason, record.where());
    return std::nullopt;
  }
};

}  // namespace prefopt
