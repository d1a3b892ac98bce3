// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>

#include <memory>
#include <optional>
#include <string>

#include "prefopt/data/pairs/hh_rlhf_preference.hpp"
#include "prefopt/data/pairs/jsonl_pairs.hpp"
#include "prefopt/data/pairs/let_me_explain.hpp"

using namespace prefopt;
using nlohmann::json;

static_assert(is_pair_builder_v<LetMeExplain>);
static_assert(is_pair_builder_v<HhRlhfPreference>);
static_assert(is_pair_builder_v<JsonlPairs>);
namespace {
struct NoName {
  std::optional<TextPair> build(const Record&, DropLog&) const { return std::nullopt; }
};
struct WrongResult {
  static constexpr std::string_view name = "wrong";
  TextPair build(const Record&, DropLog&) const { return {}; }
};
struct NotConst {
  static constexpr std::string_view name = "not-const";
  std::optional<TextPair> build(const Record&, DropLog&) { return std::nullopt; }
};
}  // namespace
static_assert(!is_pair_builder_v<NoName>);
static_assert(!is_pair_builder_v<WrongResult>);
static_assert(!is_pair_builder_v<NotConst>);

namespace {

Record row(const std::string& chosen, const std::string& rejected, long line = 5) {
  return Record(json{{"chosen", chosen}, {"rejected", rejected}},
                SourceLine{std::make_shared<const std::string>("rows.jsonl"), line});
}

// LetMeExplain's result for a row whose rejected text is single-turn.
std::optional<TextPair> seed(const std::string& chosen, DropLog& drops) {
  return LetMeExplain{}.build(row(chosen, "\n\nHuman: q\n\nAssistant: no"), drops);
}

}  // namespace

TEST_CASE("LetMeExplain builds the seed's prompt, chosen and rejected", "[data][pairs]") {
  DropLog drops;
  const auto pair = seed("\n\nHuman: What is AI?\n\nAssistant: It is software.", drops);
  REQUIRE(pair);
  CHECK(pair->prompt == "### Question: What is AI?\n### Answer: ");
  CHECK(pair->chosen == "Let me explain. It is software.<|endoftext|>");
  CHECK(pair->rejected == "It is software.<|endoftext|>");
  CHECK(drops.empty());
}

TEST_CASE("LetMeExplain drops multi-turn rows, by chosen or by rejected", "[data][pairs]") {
  DropLog drops;
  const std::string single = "\n\nHuman: q\n\nAssistant: a";
  const std::string multi = "\n\nHuman: q\n\nAssistant: a\n\nHuman: q2\n\nAssistant: a2";
  CHECK_FALSE(LetMeExplain{}.build(row(multi, single), drops));
  CHECK_FALSE(LetMeExplain{}.build(row(single, multi, 9), drops));
  CHECK(LetMeExplain{}.build(row(single, single), drops));
  // "Human: " inside the answer counts too (the seed counts substrings, not turns).
  CHECK_FALSE(LetMeExplain{}.build(row("\n\nHuman: q\n\nAssistant: say Human: hi", single), drops));
  // "Human:" without the space does not.
  CHECK(LetMeExplain{}.build(row("\n\nHuman: q\n\nAssistant: say Human:hi", single), drops));
  CHECK(drops.count(DropReason::MultiTurn) == 3);
  REQUIRE(drops.examples(DropReason::MultiTurn).size() == 3);
  CHECK(drops.examples(DropReason::MultiTurn)[1].where.str() == "rows.jsonl:9");
}

TEST_CASE("LetMeExplain drops rows without an assistant turn, empty questions and empty answers", "[data][pairs]") {
  DropLog drops;
  CHECK_FALSE(seed("\n\nHuman: q\n\nAssistant:no space", drops));
  CHECK_FALSE(seed("\n\nHuman:  \n\nAssistant: a", drops));
  CHECK_FALSE(seed("\n\nAssistant: a", drops));  // no human turn at all: the question is empty
  CHECK_FALSE(seed("\n\nHuman: q\n\nAssistant: \n\n", drops));
  CHECK_FALSE(seed("\n\nHuman: q\n\nAssistant: Assistant: a", drops));  // parts[1] is "" (Python split)
  CHECK(drops.count(DropReason::NoAssistantTurn) == 1);
  CHECK(drops.count(DropReason::EmptyQuestion) == 2);
  CHECK(drops.count(DropReason::EmptyAnswer) == 2);
  CHECK(drops.total() == 5);
}

TEST_CASE("LetMeExplain drops answers that already start with the phrase, in any case", "[data][pairs]") {
  DropLog drops;
  CHECK_FALSE(seed("\n\nHuman: q\n\nAssistant: Let me explain how.", drops));
  CHECK_FALSE(seed("\n\nHuman: q\n\nAssistant:   LET ME EXPLAIN", drops));
  CHECK_FALSE(seed("\n\nHuman: q\n\nAssistant: let me explaining", drops));  // startswith, not a word match
  CHECK(seed("\n\nHuman: q\n\nAssistant: Let me explai", drops));
  CHECK(seed("\n\nHuman: q\n\nAssistant: Well, let me explain", drops));
  CHECK(drops.count(DropReason::AlreadyStartsWithPhrase) == 3);
}

TEST_CASE("LetMeExplain uses only the first answer when the assistant tag occurs again", "[data][pairs]") {
  DropLog drops;
  const auto pair = seed("\n\nHuman: q\n\nAssistant: first Assistant: second\n\nAssistant: third", drops);
  REQUIRE(pair);
  CHECK(pair->rejected == "first<|endoftext|>");
  // The question is part 0 with "Human: " removed in one pass (a second "Human: " would make the
  // row multi-turn, but one pass can leave one behind): Python gives 'Human: c'.
  const auto q = seed("\n\nHuHuman: man: c\n\nAssistant: x", drops);
  REQUIRE(q);
  CHECK(q->prompt == "### Question: Human: c\n### Answer: ");
}

TEST_CASE("LetMeExplain strips with Python's whitespace set", "[data][pairs]") {
  DropLog drops;
  // U+00A0 and U+3000 around the question, \x1f and U+2029 around the answer are stripped;
  // a zero-width space (U+200B) is not whitespace for Python and stays.
  const auto pair = seed("\n\nHuman: \xc2\xa0q q\xe3\x80\x80\n\nAssistant: \x1f"
                         "a\xe2\x80\x8b\xe2\x80\xa9\r\n",
                         drops);
  REQUIRE(pair);
  CHECK(pair->prompt == "### Question: q q\n### Answer: ");
  CHECK(pair->rejected == "a\xe2\x80\x8b<|endoftext|>");
  // An answer of only Python whitespace is empty.
  CHECK_FALSE(seed("\n\nHuman: q\n\nAssistant: \xe2\x80\x82\xc2\x85", drops));
  CHECK(drops.count(DropReason::EmptyAnswer) == 1);
}

TEST_CASE("LetMeExplain's phrase and EOS text are configurable", "[data][pairs]") {
  LetMeExplain builder;
  builder.phrase = "Sure! ";
  builder.already_starts_with = "sure";
  builder.eos_text = "</s>";
  DropLog drops;
  const auto pair = builder.build(row("\n\nHuman: q\n\nAssistant: a", "x"), drops);
  REQUIRE(pair);
  CHECK(pair->chosen == "Sure! a</s>");
  CHECK_FALSE(builder.build(row("\n\nHuman: q\n\nAssistant: SURE thing", "x"), drops));
  CHECK(drops.count(DropReason::AlreadyStartsWithPhrase) == 1);
}

TEST_CASE("builders throw FieldError for missing or non-string fields", "[data][pairs]") {
  DropLog drops;
  const Record missing(json{{"chosen", "\n\nHuman: q\n\nAssistant: a"}},
                       SourceLine{std::make_shared<const std::string>("rows.jsonl"), 3});
  CHECK_THROWS_WITH(LetMeExplain{}.build(missing, drops), "rows.jsonl:3: field \"rejected\" missing");
  CHECK_THROWS_AS(HhRlhfPreference{}.build(missing, drops), FieldError);
  const Record number(json{{"prompt", "p"}, {"chosen", 1}, {"rejected", "r"}}, SourceLine{nullptr, 4});
  CHECK_THROWS_WITH(JsonlPairs{}.build(number, drops), Catch::Contains("field \"chosen\" is not a string (found number)"));
  CHECK(drops.empty());
}

TEST_CASE("HhRlhfPreference splits at the last assistant tag", "[data][pairs]") {
  DropLog drops;
  const std::string prompt = "\n\nHuman: q1\n\nAssistant: a1\n\nHuman: q2\n\nAssistant:";
  const auto pair = HhRlhfPreference{}.build(row(prompt + " good", prompt + " bad"), drops);
  REQUIRE(pair);
  CHECK(pair->prompt == prompt);
  CHECK(pair->chosen == " good");
  CHECK(pair->rejected == " bad");
  // An empty last answer is kept (TRL keeps it too).
  const auto empty = HhRlhfPreference{}.build(row(prompt, prompt + " bad"), drops);
  REQUIRE(empty);
  CHECK(empty->chosen.empty());
  CHECK(drops.empty());
}

TEST_CASE("HhRlhfPreference drops rows whose conversations differ before the last answer", "[data][pairs]") {
  DropLog drops;
  CHECK_FALSE(HhRlhfPreference{}.build(row("\n\nHuman: q\n\nAssistant: a", "\n\nHuman: Q\n\nAssistant: b"), drops));
  CHECK_FALSE(HhRlhfPreference{}.build(
      row("\n\nHuman: q\n\nAssistant: a", "\n\nHuman: q\n\nAssistant: b\n\nHuman: more\n\nAssistant: c"), drops));
  CHECK_FALSE(HhRlhfPreference{}.build(row("\n\nHuman: q\n\nAssistant: a", "\n\nHuman: q"), drops));
  CHECK(drops.count(DropReason::PromptMismatch) == 2);
  CHECK(drops.count(DropReason::NoAssistantTurn) == 1);
}

TEST_CASE("JsonlPairs passes explicit fields through", "[data][pairs]") {
  DropLog drops;
  const Record r(json{{"prompt", "P"}, {"chosen", " C"}, {"rejected", " R"}, {"extra", 1}}, SourceLine{});
  CHECK(JsonlPairs{}.build(r, drops) == TextPair{"P", " C", " R"});
  JsonlPairs renamed;
  renamed.prompt_field = "question";
  const Record q(json{{"question", "Q"}, {"chosen", "c"}, {"rejected", "r"}}, SourceLine{});
  CHECK(renamed.build(q, drops) == TextPair{"Q", "c", "r"});
}
