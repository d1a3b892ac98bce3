// SPDX-License-Identifier: MIT
// UTF-8 validation and U+FFFD repair per maximal subpart (Unicode ch. 3.9, Table 3-8).
#include <catch2/catch.hpp>

#include <string>

#include "prefopt/tokenizer/utf8.hpp"

using namespace prefopt;

namespace {
const std::string fffd = "\xEF\xBF\xBD";
std::string times(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}
}  // namespace

TEST_CASE("well-formed UTF-8 is valid and passes through unchanged", "[tokenizer][utf8]") {
  // The boundaries of Table 3-7: U+0000, U+007F, U+0080, U+07FF, U+0800, U+D7FF, U+E000, U+FFFF,
  // U+10000, U+10FFFF.
  const std::string text = std::string("a\0b", 3) + "\x7F" "\xC2\x80" "\xDF\xBF" "\xE0\xA0\x80" "\xED\x9F\xBF"
                           "\xEE\x80\x80" "\xEF\xBF\xBF" "\xF0\x90\x80\x80" "\xF4\x8F\xBF\xBF" "caf\xC3\xA9";
  CHECK(utf8::is_valid(text));
  CHECK(utf8::replace_invalid(text) == text);
  CHECK(utf8::is_valid(""));
}

TEST_CASE("each maximal subpart of an ill-formed sequence becomes one U+FFFD", "[tokenizer][utf8]") {
  struct Case {
    std::string in, out;
  };
  const Case cases[] = {
      // Table 3-8 of the Unicode Standard: 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64.
      {"\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64", "a" + times(fffd, 3) + "b" + fffd + "c" + times(fffd, 2) + "d"},
      {"\xFF", fffd},
      {"abc\x80" "def", "abc" + fffd + "def"},
      {"\xC3\x28", fffd + "("},                        // lead byte, then ASCII
      {"\xE2\x82\x28", fffd + "("},                    // two bytes of a three-byte sequence
      {"hi\xF0\x9F\x98", "hi" + fffd},                 // truncated at the end: one replacement
      {"\xED\xA0\x80", times(fffd, 3)},                // a surrogate: ED takes no A0
      {"\xC0\xAF", times(fffd, 2)},                    // C0 and C1 never start a sequence
      {"\xE0\x80\xAF", times(fffd, 3)},                // overlong three-byte form
      {"\xF0\x80\x80\x80", times(fffd, 4)},            // overlong four-byte form
      {"\xF4\x90\x80\x80", times(fffd, 4)},            // above U+10FFFF
      {"\xF5\x80", times(fffd, 2)},
      {"\xF8\x88\x80\x80\x80", times(fffd, 5)},        // the old five-byte form
      {"\xE1\x80", fffd},                              // truncated, at the end
      {"\xF1\x80\x80" "x", fffd + "x"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.in);
    CHECK_FALSE(utf8::is_valid(c.in));
    CHECK(utf8::replace_invalid(c.in) == c.out);
    CHECK(utf8::is_valid(utf8::replace_invalid(c.in)));
  }
}

TEST_CASE("every Unicode scalar value encodes and decodes back", "[tokenizer][utf8]") {
  std::string s;
  for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    s.clear();
    utf8::append_code_point(cp, s);
    const auto step = utf8::decode_step(reinterpret_cast<const unsigned char*>(s.data()), s.size());
    if (!step.valid || step.code_point != cp || step.length != s.size()) FAIL("code point " << std::hex << cp);
  }
  SUCCEED();
}

TEST_CASE("append_replacing_invalid appends and counts the replacements", "[tokenizer][utf8]") {
  std::string out = "prefix:";
  CHECK(utf8::append_replacing_invalid("a\xFF" "b\xC3", out) == 2);
  CHECK(out == "prefix:a" + fffd + "b" + fffd);
}
