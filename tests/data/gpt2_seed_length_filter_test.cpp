// SPDX-License-Identifier: MIT
// The seed's tokenizer-dependent length filter on real rows, with prefopt's GPT-2 tokenizer:
// the token counts of every seed pair's prompt, chosen and rejected must equal js-tiktoken's
// (tests/reference/data/seed_pairs_lengths.json, from seed_lengths.mjs), and the stage count after
// the filter (prompt <= 256, prompt + chosen <= 512) must equal the reference's.
// Skipped (exit 77) when ../shared, the tokenizer files in data/gpt2 (scripts/setup.sh) or the
// tokenizer header are absent.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "prefopt/data/jsonl_reader.hpp"
#include "prefopt/data/pair_stage.hpp"
#include "prefopt/data/pairs/let_me_explain.hpp"

#if __has_include("prefopt/tokenizer/gpt2_bpe.hpp")
#include "prefopt/tokenizer/gpt2_bpe.hpp"
#define PREFOPT_DATA_TEST_HAS_TOKENIZER 1
#else
#define PREFOPT_DATA_TEST_HAS_TOKENIZER 0
#endif

using namespace prefopt;
namespace fs = std::filesystem;

namespace {
const std::string shared_rows = PREFOPT_SHARED_DIR "/data/hh-rlhf/harmless-base-test.jsonl.gz";
const std::string tokenizer_dir = PREFOPT_SOURCE_DIR "/data/gpt2";
const std::string reference_dir = PREFOPT_SOURCE_DIR "/tests/reference/data";
}  // namespace

std::string data_test_missing_requirement() {
  if (!fs::exists(shared_rows)) return "the shared hh-rlhf rows are absent (" + shared_rows + ")";
  if (!fs::exists(tokenizer_dir + "/vocab.json") || !fs::exists(tokenizer_dir + "/merges.txt"))
    return "the GPT-2 tokenizer files are absent (" + tokenizer_dir + "; scripts/setup.sh fetches them)";
  if (!PREFOPT_DATA_TEST_HAS_TOKENIZER) return "prefopt/tokenizer/gpt2_bpe.hpp is not in this tree";
  return "";
}

#if PREFOPT_DATA_TEST_HAS_TOKENIZER
namespace {

nlohmann::json reference_lengths() {
  std::ifstream in(reference_dir + "/seed_pairs_lengths.json");
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

BuiltPairs seed_pairs(PairStageReport& report) {
  JsonlReader reader({shared_rows});
  return build_pairs(reader, LetMeExplain{}, report);
}

}  // namespace

TEST_CASE("GPT-2 token counts of every seed pair equal js-tiktoken's", "[data][shared][gpt2]") {
  const nlohmann::json expected = reference_lengths();
  const Gpt2Tokenizer tokenizer = Gpt2Tokenizer::from_directory(tokenizer_dir);
  PairStageReport report;
  const BuiltPairs built = seed_pairs(report);
  const auto& lengths = expected.at("lengths");
  REQUIRE(lengths.size() == built.pairs.size());
  for (std::size_t i = 0; i < built.pairs.size(); ++i) {
    const auto& row = lengths[i];  // [line, prompt, chosen, rejected]
    CAPTURE(i, row);
    CHECK(built.sources[i].line == row[0].get<long>());
    CHECK(tokenizer.encode(built.pairs[i].prompt).size() == row[1].get<std::size_t>());
    CHECK(tokenizer.encode(built.pairs[i].chosen).size() == row[2].get<std::size_t>());
    CHECK(tokenizer.encode(built.pairs[i].rejected).size() == row[3].get<std::size_t>());
  }
}

TEST_CASE("the seed's length filter keeps the reference's number of pairs", "[data][shared][gpt2][seed]") {
  const nlohmann::json expected = reference_lengths();
  const Gpt2Tokenizer tokenizer = Gpt2Tokenizer::from_directory(tokenizer_dir);
  PairStageReport report;
  const BuiltPairs built = seed_pairs(report);
  TokenizeOptions options;  // the seed: DPOConfig(max_length=512, max_prompt_length=256) on TRL 0.12-0.15
  options.length = LengthPolicy::Filter;
  options.max_prompt_length = expected.at("max_prompt_length").get<index_t>();
  options.max_length = expected.at("max_length").get<index_t>();
  options.eos = EosPolicy::Trl012;
  const std::vector<TokenizedPair> pairs = tokenize_pairs(tokenizer, built, options, report);
  std::cout << report.to_string();
  CHECK(report.pairs_tokenized() == expected.at("after_length_filter").get<index_t>());  // 639
  CHECK(static_cast<index_t>(pairs.size()) == report.pairs_tokenized());
  CHECK(report.tokenize.double_eos == 2 * report.pairs_tokenized());  // both completions end in "<|endoftext|>"
  // TRL 0.12-0.15's boundary: the prompt ends with its own " " token (220), chosen starts with
  // "Let" (5756), never the merged " Let" (3914).
  for (const TokenizedPair& p : pairs) {
    CHECK(p.prompt_ids.back() == 220);
    CHECK(p.chosen_ids.front() == 5756);
  }
}
#else
// Same names without the tokenizer, so CTest lists them and reports them skipped (main exits 77).
TEST_CASE("GPT-2 token counts of every seed pair equal js-tiktoken's", "[data][shared][gpt2]") {}
TEST_CASE("the seed's length filter keeps the reference's number of pairs", "[data][shared][gpt2][seed]") {}
#endif
