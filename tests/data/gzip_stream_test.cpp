// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "data_test_support.hpp"
#include "prefopt/core/random.hpp"
#include "prefopt/data/gzip_stream.hpp"

using namespace prefopt;

namespace {

// Reads a source to its end in reads of `chunk` bytes.
std::string read_all(ByteSource& source, std::size_t chunk = 4096) {
  std::string out, buffer(chunk, '\0');
  for (std::size_t k; (k = source.read(&buffer[0], chunk)) > 0;) out.append(buffer, 0, k);
  return out;
}

std::string inflate_all(const std::string& bytes, std::size_t chunk = 4096) {
  auto source = decompress_if_gzip(std::make_unique<MemorySource>(bytes, "mem.gz"));
  return read_all(*source, chunk);
}

std::string sample_text(std::size_t n) {
  std::string text;
  prefopt::Random random(7);
  while (text.size() < n) text += "line " + std::to_string(random.below(100000)) + " of sample text\n";
  return text;
}

}  // namespace

TEST_CASE("plain bytes pass through decompress_if_gzip unchanged", "[data][gzip]") {
  for (const std::string& text : {std::string(), std::string("x"), std::string("\x1f"), std::string("{\"a\": 1}\n")}) {
    CAPTURE(text);
    CHECK(inflate_all(text) == text);
  }
}

TEST_CASE("a gzip stream inflates to the original bytes, whatever the read size", "[data][gzip]") {
  const std::string text = sample_text(300000);  // several 64 KiB input buffers
  const std::string packed = data_test::gzip(text);
  REQUIRE(has_gzip_magic(packed));
  CHECK(inflate_all(packed) == text);
  CHECK(inflate_all(packed, 1) == text);
  CHECK(inflate_all(packed, 7777) == text);
  CHECK(inflate_all(data_test::gzip("")).empty());
}

TEST_CASE("concatenated gzip members read as one stream, zero padding after them is ignored", "[data][gzip]") {
  const std::string a = "first member\n", b = sample_text(100000), c = "third\n";
  const std::string packed = data_test::gzip(a) + data_test::gzip(b, 1) + data_test::gzip("") + data_test::gzip(c);
  GzipSource source(std::make_unique<MemorySource>(packed, "multi.gz"));
  CHECK(read_all(source, 333) == a + b + c);
  CHECK(source.members() == 4);
  CHECK(inflate_all(packed + std::string(100, '\0')) == a + b + c);
}

TEST_CASE("bytes after a gzip member that are not a member are an error", "[data][gzip]") {
  const std::string packed = data_test::gzip("ok\n") + "trailing garbage";
  REQUIRE_THROWS_WITH(inflate_all(packed), Catch::Contains("mem.gz") && Catch::Contains("member 2") &&
                                               Catch::Contains("corrupt"));
}

TEST_CASE("a gzip stream cut anywhere is reported truncated, never read short", "[data][gzip]") {
  const std::string text = sample_text(5000);
  const std::string packed = data_test::gzip(text);
  for (std::size_t cut = 2; cut < packed.size(); ++cut) {
    CAPTURE(cut);
    REQUIRE_THROWS_AS(inflate_all(packed.substr(0, cut)), StreamError);
  }
  CHECK_THROWS_WITH(inflate_all(packed.substr(0, packed.size() / 2)),
                    Catch::Contains("mem.gz") && Catch::Contains("truncated"));
  CHECK_THROWS_WITH(inflate_all(packed + packed.substr(0, 15)), Catch::Contains("member 2") && Catch::Contains("truncated"));
}

TEST_CASE("a corrupt gzip stream (CRC, length, deflate data) is an error", "[data][gzip]") {
  const std::string text = sample_text(5000);
  const std::string packed = data_test::gzip(text);
  std::string bad_crc = packed;
  bad_crc[packed.size() - 8] ^= 0x01;  // trailer: CRC-32, then ISIZE
  CHECK_THROWS_WITH(inflate_all(bad_crc), Catch::Contains("incorrect data check"));
  std::string bad_size = packed;
  bad_size[packed.size() - 4] ^= 0x01;
  CHECK_THROWS_WITH(inflate_all(bad_size), Catch::Contains("incorrect length check"));
  std::string bad_method = packed;
  bad_method[2] = 7;  // CM must be 8 (deflate)
  CHECK_THROWS_WITH(inflate_all(bad_method), Catch::Contains("corrupt"));
}

TEST_CASE("an empty input to GzipSource is a truncated stream", "[data][gzip]") {
  GzipSource source(std::make_unique<MemorySource>("", "empty.gz"));
  CHECK_THROWS_WITH(read_all(source), Catch::Contains("empty.gz") && Catch::Contains("truncated"));
}

TEST_CASE("open_data_file detects gzip by content and reports unreadable paths", "[data][gzip]") {
  const auto dir = data_test::scratch_dir("gzip_open");
  const std::string text = "{\"a\": 1}\n";
  auto plain = open_data_file(data_test::write_file(dir / "plain.jsonl.gz", text));  // misleading name
  CHECK(read_all(*plain) == text);
  auto packed = open_data_file(data_test::write_file(dir / "packed.jsonl", data_test::gzip(text)));
  CHECK(read_all(*packed) == text);
  CHECK_THROWS_WITH(open_data_file((dir / "missing.jsonl").string()), Catch::Contains("missing.jsonl") &&
                                                                          Catch::Contains("cannot open"));
  CHECK_THROWS_WITH(open_data_file(dir.string()), Catch::Contains("is a directory"));
}
