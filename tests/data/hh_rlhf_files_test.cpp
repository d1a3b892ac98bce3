// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "data_test_support.hpp"
#include "prefopt/data/hh_rlhf_files.hpp"

using namespace prefopt;

TEST_CASE("a file is read as is, whatever the split", "[data][hh_rlhf]") {
  const auto dir = data_test::scratch_dir("hh_file");
  const std::string file = data_test::write_file(dir / "rows.jsonl", "{}\n");
  CHECK(hh_rlhf_files(file, "train") == std::vector<std::string>{file});
}

TEST_CASE("a Hugging Face layout folder gives one split's files, subsets sorted", "[data][hh_rlhf]") {
  const auto dir = data_test::scratch_dir("hh_layout");
  for (const char* subset : {"helpful-online", "harmless-base", "helpful-base"}) {
    data_test::write_file(dir / subset / "train.jsonl.gz", data_test::gzip("{}\n"));
    data_test::write_file(dir / subset / "test.jsonl.gz", data_test::gzip("{}\n"));
  }
  data_test::write_file(dir / "red-team-attempts" / "red_team_attempts.jsonl.gz", "");
  data_test::write_file(dir / "README.md", "");
  CHECK(hh_rlhf_files(dir.string(), "test") ==
        std::vector<std::string>{(dir / "harmless-base" / "test.jsonl.gz").string(),
                                 (dir / "helpful-base" / "test.jsonl.gz").string(),
                                 (dir / "helpful-online" / "test.jsonl.gz").string()});
  CHECK(hh_rlhf_files((dir / "helpful-base").string(), "train") ==
        std::vector<std::string>{(dir / "helpful-base" / "train.jsonl.gz").string()});
}

TEST_CASE("a flat folder of <subset>-<split> files is read too", "[data][hh_rlhf]") {
  const auto dir = data_test::scratch_dir("hh_flat");
  data_test::write_file(dir / "harmless-base-test.jsonl.gz", "");
  data_test::write_file(dir / "a-test.jsonl", "");
  data_test::write_file(dir / "harmless-base-train.jsonl.gz", "");
  data_test::write_file(dir / "contest.jsonl", "");
  CHECK(hh_rlhf_files(dir.string(), "test") ==
        std::vector<std::string>{(dir / "a-test.jsonl").string(), (dir / "harmless-base-test.jsonl.gz").string()});
}

TEST_CASE("a folder without the split's files is an error listing what was expected", "[data][hh_rlhf]") {
  const auto dir = data_test::scratch_dir("hh_none");
  data_test::write_file(dir / "notes.txt", "");
  data_test::write_file(dir / "harmless-base" / "train.jsonl.gz", "");
  CHECK_THROWS_WITH(hh_rlhf_files(dir.string(), "test"),
                    Catch::Contains("no data files for split \"test\"") &&
                        Catch::Contains("harmless-base/test.jsonl.gz") && Catch::Contains("<subset>-test.jsonl.gz") &&
                        Catch::Contains("harmless-base, notes.txt"));
  CHECK_THROWS_WITH(hh_rlhf_files((dir / "missing").string(), "test"), Catch::Contains("no such file or folder"));
  CHECK_THROWS_AS(hh_rlhf_files(dir.string(), "../x"), ArgumentError);
  CHECK_THROWS_AS(hh_rlhf_files(dir.string(), ""), ArgumentError);
}

TEST_CASE("a subset with both .jsonl and .jsonl.gz for a split is ambiguous", "[data][hh_rlhf]") {
  const auto dir = data_test::scratch_dir("hh_ambiguous");
  data_test::write_file(dir / "s" / "test.jsonl", "");
  data_test::write_file(dir / "s" / "test.jsonl.gz", "");
  CHECK_THROWS_WITH(hh_rlhf_files(dir.string(), "test"), Catch::Contains("subset \"s\" has two files"));
}
