// SPDX-License-Identifier: MIT
// The seed's data cells on real rows: prefopt's LetMeExplain and HhRlhfPreference over the shared
// harmless-base test split must give what tests/reference/data/seed_pairs.py (plain Python string
// operations, the seed's cells rule for rule) gives — the counts per stage and reason, and the exact
// text of every pair. Skipped (exit 77) when ../shared is absent; a missing reference file fails.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "prefopt/data/hh_rlhf_files.hpp"
#include "prefopt/data/jsonl_reader.hpp"
#include "prefopt/data/pair_stage.hpp"
#include "prefopt/data/pairs/hh_rlhf_preference.hpp"
#include "prefopt/data/pairs/let_me_explain.hpp"

using namespace prefopt;
namespace fs = std::filesystem;

namespace {

const std::string shared_rows_dir = PREFOPT_SHARED_DIR "/data/hh-rlhf";
const std::string reference_dir = PREFOPT_SOURCE_DIR "/tests/reference/data";

// The Python script's reason keys.
const std::map<std::string, DropReason> reason_keys = {
    {"multi_turn", DropReason::MultiTurn},
    {"no_assistant_turn", DropReason::NoAssistantTurn},
    {"empty_question", DropReason::EmptyQuestion},
    {"empty_answer", DropReason::EmptyAnswer},
    {"already_starts_with_phrase", DropReason::AlreadyStartsWithPhrase},
    {"prompt_mismatch", DropReason::PromptMismatch},
};

nlohmann::json reference_counts() {
  const std::string path = reference_dir + "/seed_pairs_counts.json";
  std::ifstream in(path);
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

// Every drop reason the builder counted must be one the reference counted, with the same count.
void check_drops(const DropLog& drops, const nlohmann::json& expected) {
  index_t total = 0;
  for (const auto& [key, count] : expected.items()) {
    CAPTURE(key);
    REQUIRE(reason_keys.count(key) == 1);
    CHECK(drops.count(reason_keys.at(key)) == count.get<index_t>());
    total += count.get<index_t>();
  }
  CHECK(drops.total() == total);
}

BuiltPairs build_shared(PairStageReport& report, bool hh_preference) {
  const std::vector<std::string> files = hh_rlhf_files(shared_rows_dir, "test");
  REQUIRE(files == std::vector<std::string>{shared_rows_dir + "/harmless-base-test.jsonl.gz"});
  JsonlReader reader(files);
  if (hh_preference) return build_pairs(reader, HhRlhfPreference{}, report);
  return build_pairs(reader, LetMeExplain{}, report);
}

}  // namespace

std::string data_test_missing_requirement() {
  if (!fs::exists(shared_rows_dir + "/harmless-base-test.jsonl.gz"))
    return "the shared hh-rlhf rows are absent (" + shared_rows_dir + "/harmless-base-test.jsonl.gz)";
  return "";
}

TEST_CASE("LetMeExplain on the shared split gives the Python reference's stage counts", "[data][shared][seed]") {
  const nlohmann::json expected = reference_counts().at("let_me_explain");
  PairStageReport report;
  build_shared(report, false);
  std::cout << report.to_string();
  CHECK(report.read.skipped.empty());
  CHECK(report.rows_read() == expected.at("rows_read").get<index_t>());      // 2,312
  CHECK(report.single_turn() == expected.at("single_turn").get<index_t>());  // 642
  CHECK(report.pairs_built == expected.at("pairs_built").get<index_t>());    // 639
  check_drops(report.build_drops, expected.at("drops"));
}

TEST_CASE("LetMeExplain on the shared split builds exactly the Python reference's pairs", "[data][shared][seed]") {
  PairStageReport report;
  const BuiltPairs built = build_shared(report, false);
  JsonlReader expected_reader({reference_dir + "/seed_pairs_expected.jsonl.gz"});
  Record expected;
  std::size_t i = 0;
  while (expected_reader.next(expected)) {
    CAPTURE(i, expected.json().at("line").get<long>());
    REQUIRE(i < built.pairs.size());
    CHECK(built.sources[i].line == expected.json().at("line").get<long>());
    CHECK(built.pairs[i].prompt == expected.string_field("prompt"));
    CHECK(built.pairs[i].chosen == expected.string_field("chosen"));
    CHECK(built.pairs[i].rejected == expected.string_field("rejected"));
    ++i;
  }
  CHECK(i == built.pairs.size());
  CHECK(i == 639);
}

TEST_CASE("HhRlhfPreference on the shared split gives the Python reference's pairs", "[data][shared][hh_rlhf]") {
  const nlohmann::json expected = reference_counts().at("hh_rlhf_preference");
  PairStageReport report;
  const BuiltPairs built = build_shared(report, true);
  std::cout << report.to_string();
  CHECK(report.rows_read() == expected.at("rows_read").get<index_t>());
  CHECK(report.pairs_built == expected.at("pairs_built").get<index_t>());
  check_drops(report.build_drops, expected.at("drops"));
  index_t multi_turn = 0;
  for (const TextPair& pair : built.pairs) multi_turn += python_str::count(pair.prompt, "\n\nHuman:") >= 2;
  CHECK(multi_turn == expected.at("multi_turn_pairs").get<index_t>());
  for (const nlohmann::json& sample : expected.at("samples")) {
    const long line = sample.at("line").get<long>();
    CAPTURE(line);
    std::size_t k = 0;
    while (k < built.sources.size() && built.sources[k].line != line) ++k;
    REQUIRE(k < built.sources.size());
    CHECK(built.pairs[k].prompt == sample.at("prompt").get<std::string>());
    CHECK(built.pairs[k].chosen == sample.at("chosen").get<std::string>());
    CHECK(built.pairs[k].rejected == sample.at("rejected").get<std::string>());
  }
}
