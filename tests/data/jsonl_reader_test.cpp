// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "data_test_support.hpp"
#include "prefopt/data/jsonl_reader.hpp"

using namespace prefopt;

namespace {

std::vector<Record> read_all(JsonlReader& reader) {
  std::vector<Record> records;
  Record record;
  while (reader.next(record)) records.push_back(std::move(record));
  return records;
}

std::vector<Record> read_text(const std::string& text, ReadOptions options = {}, ReadStats* stats = nullptr) {
  JsonlReader reader(std::make_unique<MemorySource>(text, "mem.jsonl"), options);
  auto records = read_all(reader);
  if (stats != nullptr) *stats = reader.stats();
  return records;
}

// The DataError `text` raises, as (line, message).
std::pair<long, std::string> error_of(const std::string& text) {
  try {
    read_text(text);
  } catch (const DataError& e) {
    return {e.line(), e.what()};
  }
  FAIL("no DataError for: " << text);
  return {};
}

ReadOptions skipping() {
  ReadOptions options;
  options.bad_records = BadRecords::Skip;
  return options;
}

}  // namespace

TEST_CASE("records carry their file and 1-based line", "[data][jsonl]") {
  ReadStats stats;
  const auto records = read_text("{\"a\": 1}\n{\"a\": 2, \"s\": \"x\"}\n{\"a\": 3}", {}, &stats);  // no final "\n"
  REQUIRE(records.size() == 3);
  for (long i = 0; i < 3; ++i) {
    CHECK(records[i].file() == "mem.jsonl");
    CHECK(records[i].line() == i + 1);
    CHECK(records[i].json().at("a") == i + 1);
  }
  CHECK(records[1].string_field("s") == "x");
  CHECK(stats.records == 3);
  CHECK(stats.lines == 3);
  CHECK(stats.files == 1);
  CHECK(stats.skipped.empty());
}

TEST_CASE("CRLF line ends and blank lines at the end are accepted", "[data][jsonl]") {
  ReadStats stats;
  const auto records = read_text("{\"s\": \"a\"}\r\n{\"s\": \"b\"}\r\n\r\n  \n\t\n", {}, &stats);
  REQUIRE(records.size() == 2);
  CHECK(records[1].string_field("s") == "b");
  CHECK(records[1].line() == 2);
  CHECK(stats.trailing_blank_lines == 3);
  CHECK(stats.lines == 5);
}

TEST_CASE("lines of any length are read whole", "[data][jsonl]") {
  const std::string long_value(1 << 20, 'x');  // 16 times the reader's buffer
  const auto records = read_text("{\"s\": \"" + long_value + "\"}\n{\"s\": \"y\"}\n");
  REQUIRE(records.size() == 2);
  CHECK(records[0].string_field("s") == long_value);
  CHECK(records[1].line() == 2);

  ReadOptions small;
  small.max_line_bytes = 1000;
  CHECK_THROWS_WITH(read_text("{}\n{\"s\": \"" + long_value + "\"}\n", small),
                    Catch::Contains("mem.jsonl:2:") && Catch::Contains("longer than 1000 bytes"));
}

TEST_CASE("a malformed line is a DataError naming file and line", "[data][jsonl]") {
  const auto [line, message] = error_of("{\"a\": 1}\n{\"a\": 1}\n{\"a\": }\n{\"a\": 1}\n");
  CHECK(line == 3);
  CHECK_THAT(message, Catch::StartsWith("mem.jsonl:3: malformed JSON"));
  CHECK_THAT(error_of("{\"a\": 1} {\"b\": 2}\n").second, Catch::Contains("malformed JSON"));  // two values
  CHECK_THAT(error_of("{\"a\": NaN}\n").second, Catch::Contains("malformed JSON"));
}

TEST_CASE("a line that is not a JSON object is a DataError", "[data][jsonl]") {
  CHECK(error_of("[1, 2]\n").second == "mem.jsonl:1: expected a JSON object, found array");
  CHECK(error_of("{}\n\"text\"\n").second == "mem.jsonl:2: expected a JSON object, found string");
  CHECK(error_of("{}\n17\n").second == "mem.jsonl:2: expected a JSON object, found number");
}

TEST_CASE("invalid UTF-8 is a DataError that says so", "[data][jsonl]") {
  for (const std::string& bad : {std::string("\xff"), std::string("\xc0\xaf"), std::string("\xed\xa0\x80"),
                                std::string("\xf4\x90\x80\x80"), std::string("\xe2\x82")}) {
    const auto [line, message] = error_of("{}\n{\"s\": \"ab" + bad + "\"}\n");
    CHECK(line == 2);
    CHECK_THAT(message, Catch::StartsWith("mem.jsonl:2: invalid UTF-8 at byte 10 of the line"));
  }
  // Well-formed non-ASCII text is fine, escaped or not.
  const auto records = read_text("{\"s\": \"caf\xc3\xa9 \\u00e9 \xf0\x9f\x99\x82\"}\n");
  CHECK(records.at(0).string_field("s") == "caf\xc3\xa9 \xc3\xa9 \xf0\x9f\x99\x82");
  // A lone surrogate escape is malformed JSON for nlohmann (Python would accept it).
  CHECK_THAT(error_of("{\"s\": \"\\ud800\"}\n").second, Catch::Contains("malformed JSON"));
}

TEST_CASE("a blank line followed by more records is a bad record", "[data][jsonl]") {
  const auto [line, message] = error_of("{}\n\n\n{}\n");
  CHECK(line == 2);
  CHECK_THAT(message, Catch::Contains("blank line"));
}

TEST_CASE("a file without records is a DataError", "[data][jsonl]") {
  CHECK(error_of("").second == "mem.jsonl:0: no records: the file is empty");
  CHECK(error_of("\n \n").second == "mem.jsonl:2: no records in 2 lines");
}

TEST_CASE("JSON nested deeper than max_depth is refused before parsing", "[data][jsonl]") {
  CHECK(json_nesting_depth("{\"a\": [1, {\"b\": \"[[[{\"}]}", 100) == 3);
  const std::string deep = "{\"a\": " + std::string(100000, '[') + std::string(100000, ']') + "}\n";
  CHECK_THAT(error_of(deep).second, Catch::Contains("nests deeper than 64 levels"));
  const std::string ok = "{\"a\": " + std::string(63, '[') + std::string(63, ']') + "}\n";
  CHECK(read_text(ok).size() == 1);
}

TEST_CASE("skip mode counts every bad record by reason, with example lines", "[data][jsonl]") {
  const std::string text =
      "{\"n\": 1}\n"       // 1 good
      "not json\n"         // 2 malformed
      "[1]\n"              // 3 not an object
      "{\"s\": \"\xff\"}\n"  // 4 invalid UTF-8
      "\n"                 // 5 blank, then more records
      "{\"n\": 2}\n"       // 6 good
      "{\"n\": \n"         // 7 malformed
      "{\"n\": 3}\n"       // 8 good
      "\n";                // 9 trailing blank: fine
  ReadStats stats;
  const auto records = read_text(text, skipping(), &stats);
  REQUIRE(records.size() == 3);
  CHECK(records[2].line() == 8);
  CHECK(stats.records == 3);
  CHECK(stats.lines == 9);
  CHECK(stats.trailing_blank_lines == 1);
  CHECK(stats.skipped.total() == 5);
  CHECK(stats.skipped.count(SkipReason::MalformedJson) == 2);
  CHECK(stats.skipped.count(SkipReason::NotAnObject) == 1);
  CHECK(stats.skipped.count(SkipReason::InvalidUtf8) == 1);
  CHECK(stats.skipped.count(SkipReason::BlankLine) == 1);
  const auto malformed = stats.skipped.examples(SkipReason::MalformedJson);
  REQUIRE(malformed.size() == 2);
  CHECK(malformed[0].where.str() == "mem.jsonl:2");
  CHECK(malformed[1].where.str() == "mem.jsonl:7");
  const std::string report = stats.skipped.to_string();
  CHECK_THAT(report, Catch::Contains("malformed JSON: 2 (e.g. mem.jsonl lines 2, 7; first: malformed JSON: "));
  CHECK_THAT(report, Catch::Contains("blank line before more records: 1 (e.g. mem.jsonl line 5;"));
}

TEST_CASE("skip mode keeps at most max_examples examples but counts all", "[data][jsonl]") {
  std::string text;
  for (int i = 0; i < 50; ++i) text += "oops\n{}\n";
  ReadStats stats;
  CHECK(read_text(text, skipping(), &stats).size() == 50);
  CHECK(stats.skipped.count(SkipReason::MalformedJson) == 50);
  CHECK(stats.skipped.examples(SkipReason::MalformedJson).size() == SkipLog::max_examples);
}

TEST_CASE("skip mode counts an empty file and reads on", "[data][jsonl]") {
  const auto dir = data_test::scratch_dir("jsonl_skip_empty");
  const std::string a = data_test::write_file(dir / "a.jsonl", "");
  const std::string b = data_test::write_file(dir / "b.jsonl", "{}\n");
  JsonlReader reader({a, b}, skipping());
  CHECK(read_all(reader).size() == 1);
  CHECK(reader.stats().skipped.count(SkipReason::EmptyFile) == 1);
  CHECK(reader.stats().skipped.examples(SkipReason::EmptyFile).at(0).where.str() == a + ":0");
}

TEST_CASE("several files read as one stream, lines numbered per file", "[data][jsonl]") {
  const auto dir = data_test::scratch_dir("jsonl_files");
  const std::string a = data_test::write_file(dir / "a.jsonl", "{\"f\": \"a\"}\n{\"f\": \"a\"}\n");
  const std::string b = data_test::write_file(dir / "b.jsonl.gz", data_test::gzip("{\"f\": \"b\"}\r\n"));
  JsonlReader reader({a, b});
  const auto records = read_all(reader);
  REQUIRE(records.size() == 3);
  CHECK(records[1].file() == a);
  CHECK(records[1].line() == 2);
  CHECK(records[2].file() == b);
  CHECK(records[2].line() == 1);
  CHECK(records[2].string_field("f") == "b");
  CHECK(reader.stats().files == 2);
  CHECK(reader.stats().records == 3);
}

TEST_CASE("a truncated gzip file is a DataError naming the file and the line reached", "[data][jsonl][gzip]") {
  const auto dir = data_test::scratch_dir("jsonl_truncated");
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "{\"n\": " + std::to_string(i * 7919 % 100003) + "}\n";
  const std::string packed = data_test::gzip(text);
  const std::string path = data_test::write_file(dir / "cut.jsonl.gz", packed.substr(0, packed.size() / 2));
  for (const BadRecords mode : {BadRecords::Throw, BadRecords::Skip}) {
    ReadOptions options;
    options.bad_records = mode;  // truncation is not a bad record: the rest of the file is lost
    JsonlReader reader({path}, options);
    Record record;
    long last_good = 0;
    try {
      while (reader.next(record)) last_good = record.line();
      FAIL("no error for a truncated file");
    } catch (const DataError& e) {
      CHECK(e.file() == path);
      CHECK(e.line() > 1000);
      CHECK(e.line() >= last_good + 1);
      CHECK_THAT(e.what(), Catch::Contains("truncated") && Catch::Contains("complete lines were read before it"));
    }
  }
}

TEST_CASE("a missing file is a DataError", "[data][jsonl]") {
  JsonlReader reader({std::string("/nonexistent/x.jsonl")});
  Record record;
  CHECK_THROWS_WITH(reader.next(record), Catch::Contains("/nonexistent/x.jsonl") && Catch::Contains("cannot open"));
}

TEST_CASE("Record::string_field names the file, line and field", "[data][record]") {
  const auto records = read_text("{}\n{\"chosen\": 3, \"rejected\": null, \"list\": [], \"s\": \"ok\"}\n");
  const Record& r = records.at(1);
  CHECK_THROWS_WITH(r.string_field("prompt"), "mem.jsonl:2: field \"prompt\" missing");
  CHECK_THROWS_WITH(r.string_field("chosen"), "mem.jsonl:2: field \"chosen\" is not a string (found number)");
  CHECK_THROWS_WITH(r.string_field("rejected"), "mem.jsonl:2: field \"rejected\" is not a string (found null)");
  CHECK_THROWS_WITH(r.string_field("list"), "mem.jsonl:2: field \"list\" is not a string (found array)");
  CHECK_THROWS_AS(r.string_field("chosen"), FieldError);
  try {
    r.string_field("chosen");
  } catch (const FieldError& e) {
    CHECK(e.field() == "chosen");
    CHECK(e.kind() == FieldError::Kind::NotAString);
    CHECK(e.line() == 2);
    CHECK(e.description() == "field \"chosen\" is not a string (found number)");
  }
  CHECK(r.string_field("s") == "ok");
  CHECK(r.find_string("s") != nullptr);
  CHECK(r.find_string("chosen") == nullptr);
  CHECK(r.has_field("rejected"));
}
