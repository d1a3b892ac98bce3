// SPDX-License-Identifier: MIT
// GPT-2's byte-to-unicode alphabet (encoder.py bytes_to_unicode()).
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "prefopt/tokenizer/byte_unicode.hpp"

using namespace prefopt;

TEST_CASE("the byte-level alphabet is encoder.py's bytes_to_unicode", "[tokenizer][byte_unicode]") {
  std::set<char32_t> seen;
  for (unsigned b = 0; b < 256; ++b) {
    seen.insert(byte_to_unicode[b]);
    CHECK(unicode_to_byte(byte_to_unicode[b]) == int(b));
  }
  CHECK(seen.size() == 256);
  CHECK(byte_to_unicode['!'] == U'!');
  CHECK(byte_to_unicode['~'] == U'~');
  CHECK(byte_to_unicode[0xA1] == 0xA1);
  CHECK(byte_to_unicode[0xFF] == 0xFF);
  // The 68 others, in byte order, from U+0100: 0x00..0x20, 0x7F, 0x80..0xA0, 0xAD.
  CHECK(byte_to_unicode[0x00] == 0x100);
  CHECK(byte_to_unicode[' '] == 0x120);   // 'Ġ'
  CHECK(byte_to_unicode['\n'] == 0x10A);  // 'Ċ'
  CHECK(byte_to_unicode[0x7F] == 0x121);
  CHECK(byte_to_unicode[0x80] == 0x122);
  CHECK(byte_to_unicode[0xA0] == 0x142);
  CHECK(byte_to_unicode[0xAD] == 0x143);
  CHECK(unicode_to_byte(U' ') == -1);
  CHECK(unicode_to_byte(0x144) == -1);
  CHECK(unicode_to_byte(0x4E00) == -1);
}

TEST_CASE("byte-level spelling round-trips every byte and refuses foreign characters", "[tokenizer][byte_unicode]") {
  std::string all;
  for (unsigned b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  const std::string spelled = byte_level_encode(all);
  std::string back;
  REQUIRE(byte_level_decode(spelled, back));
  CHECK(back == all);
  CHECK(byte_level_encode(" the\n") == "\xC4\xA0the\xC4\x8A");

  std::string out;
  std::size_t bad = 99;
  CHECK_FALSE(byte_level_decode("ab c", out, &bad));
  CHECK(bad == 2);
  CHECK_FALSE(byte_level_decode("a\xFF", out, &bad));
  CHECK(bad == 1);
  CHECK_FALSE(byte_level_decode("\xE4\xB8\x80", out, &bad));  // U+4E00
}
