// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "data_test_support.hpp"
#include "prefopt/data/pair_stage.hpp"
#include "prefopt/data/pairs/let_me_explain.hpp"

using namespace prefopt;

namespace {

const std::string rows =
    "{\"chosen\": \"\\n\\nHuman: q1\\n\\nAssistant: a1\", \"rejected\": \"\\n\\nHuman: q1\\n\\nAssistant: b1\"}\n"
    "{\"chosen\": \"\\n\\nHuman: q\\n\\nAssistant: a\\n\\nHuman: q\\n\\nAssistant: a\", \"rejected\": \"x\"}\n"
    "{\"chosen\": \"\\n\\nHuman: q3\\n\\nAssistant: Let me explain\", \"rejected\": \"x\"}\n"
    "{\"chosen\": \"\\n\\nHuman: q4\\n\\nAssistant: " + std::string(40, 'a') + "\", \"rejected\": \"x\"}\n"
    "{\"chosen\": \"\\n\\nHuman: q5\\n\\nAssistant: a5\"}\n"
    "{\"chosen\": 5, \"rejected\": \"x\"}\n"
    "broken\n"
    "{\"chosen\": \"\\n\\nHuman: q8\\n\\nAssistant: a8\", \"rejected\": \"x\"}\n";

JsonlReader reader_over(const std::string& text, BadRecords mode) {
  ReadOptions options;
  options.bad_records = mode;
  return JsonlReader(std::make_unique<MemorySource>(text, "rows.jsonl"), options);
}

}  // namespace

TEST_CASE("the pair stage reports the seed's counts and every drop", "[data][stage]") {
  JsonlReader reader = reader_over(rows, BadRecords::Skip);
  PairStageReport report;
  const BuiltPairs built = build_pairs(reader, LetMeExplain{}, report);
  CHECK(report.builder == "let-me-explain");
  CHECK(report.rows_read() == 7);  // line 7 is not a record
  CHECK(report.read.skipped.count(SkipReason::MalformedJson) == 1);
  CHECK(report.read.skipped.count(SkipReason::MissingField) == 1);
  CHECK(report.read.skipped.count(SkipReason::FieldNotString) == 1);
  CHECK(report.rows_with_fields() == 5);
  CHECK(report.single_turn() == 4);
  CHECK(report.build_drops.count(DropReason::AlreadyStartsWithPhrase) == 1);
  CHECK(report.pairs_built == 3);
  REQUIRE(built.pairs.size() == 3);
  CHECK(built.sources[1].str() == "rows.jsonl:4");
  CHECK(built.pairs[2].prompt == "### Question: q8\n### Answer: ");
  CHECK(report.pairs_tokenized() == 3);

  TokenizeOptions options;
  options.length = LengthPolicy::Filter;
  options.max_prompt_length = 30;
  options.max_length = 60;  // pair 2: 29 + 16 + 40 + 1 tokens > 60
  const auto tokenized = tokenize_pairs(data_test::FakeTokenizer{}, built, options, report);
  CHECK(tokenized.size() == 2);
  CHECK(report.pairs_tokenized() == 2);
  CHECK(report.tokenize_drops.count(DropReason::PairTooLong) == 1);
  CHECK(report.tokenize_drops.examples(DropReason::PairTooLong).at(0).where.str() == "rows.jsonl:4");

  const std::string text = report.to_string();
  CHECK_THAT(text, Catch::Contains("rows read") && Catch::Contains("single-turn kept") &&
                       Catch::Contains("after length filter") && Catch::Contains("multi-turn"));
  CHECK_THAT(text, Catch::Contains("missing field: 1 (e.g. rows.jsonl line 5; first: field \"rejected\" missing)"));
}

TEST_CASE("under BadRecords::Throw the pair stage stops at the first bad field", "[data][stage]") {
  JsonlReader reader = reader_over(rows, BadRecords::Throw);
  PairStageReport report;
  CHECK_THROWS_WITH(build_pairs(reader, LetMeExplain{}, report), "rows.jsonl:5: field \"rejected\" missing");
}
