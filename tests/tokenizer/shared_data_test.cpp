// SPDX-License-Identifier: MIT
// Every chosen and rejected text of the shared hh-rlhf harmless-base test split encodes to the
// golden ids of tests/reference/tokenizer (js-tiktoken and encoder.py's BPE, which agree on them).
// Its own main: when ../shared lacks the data file the binary exits 77, which CTest reports as
// skipped, but only after Catch has parsed its arguments, so that catch_discover_tests can still
// list the cases at build time.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "prefopt/tokenizer/gpt2_bpe.hpp"
#include "tokenizer_test_support.hpp"

using namespace prefopt;
using namespace prefopt::test;

namespace {
const std::filesystem::path shared_file = PREFOPT_SHARED_DIR "/data/hh-rlhf/harmless-base-test.jsonl.gz";
}  // namespace

TEST_CASE("every text of harmless-base-test encodes to the golden ids", "[tokenizer][golden][shared]") {
  const std::vector<std::string> rows = read_gz_lines(shared_file);
  const std::vector<std::string> golden = read_gz_lines(tokenizer_golden_dir() / "harmless_base_test_ids.jsonl.gz");
  REQUIRE(!golden.empty());
  const nlohmann::json header = nlohmann::json::parse(golden[0]);
  REQUIRE(header.at("rows").get<std::size_t>() == rows.size());
  REQUIRE(golden.size() == rows.size() + 1);

  const Gpt2Tokenizer& tok = gpt2_tokenizer();
  std::size_t texts = 0, matched = 0, tokens = 0;
  std::vector<token_t> ids;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const nlohmann::json row = nlohmann::json::parse(rows[i]);
    const nlohmann::json expected = nlohmann::json::parse(golden[i + 1]);
    int k = 0;
    for (const char* field : {"chosen", "rejected"}) {
      ids.clear();
      tok.encode(row.at(field).get_ref<const std::string&>(), ids);
      const auto want = expected.at(k++).get<std::vector<token_t>>();
      ++texts;
      tokens += ids.size();
      if (ids == want) {
        ++matched;
      } else {
        INFO("row " << i + 1 << " " << field);
        CHECK(ids == want);
      }
    }
  }
  INFO(matched << " of " << texts << " texts match, " << tokens << " tokens");
  CHECK(matched == texts);
  CHECK(tokens == header.at("tokens").get<std::size_t>());
}

int main(int argc, char* argv[]) {
  Catch::Session session;
  if (const int rc = session.applyCommandLine(argc, argv); rc != 0) return rc;
  const Catch::ConfigData& config = session.configData();
  const bool listing = config.listTests || config.listTestNamesOnly || config.listTags || config.listReporters ||
                       config.showHelp;
  if (!listing && !std::filesystem::exists(shared_file)) {
    std::cout << "SKIPPED: " << shared_file.string() << " is missing (the shared hh-rlhf rows)\n";
    return 77;
  }
  return session.run();
}
