// SPDX-License-Identifier: MIT
// GPT-2's pre-tokenizer regex, case by case; each expectation is what
// regex.findall(r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+", text)
// returns, derived by hand from the alternatives' order (comments give the reasoning where subtle).
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "prefopt/tokenizer/pretokenize.hpp"
#include "prefopt/tokenizer/utf8.hpp"

using namespace prefopt;

namespace {
std::vector<std::string> pieces(const std::string& text) {
  std::vector<std::string> out;
  for_each_gpt2_pretoken(text, [&](std::string_view p) { out.emplace_back(p); });
  return out;
}
using V = std::vector<std::string>;
}  // namespace

TEST_CASE("character classes follow Unicode categories and White_Space", "[tokenizer][pretokenize]") {
  CHECK(char_class(U'a') == CharClass::letter);
  CHECK(char_class(0x4E00) == CharClass::letter);   // CJK, Lo
  CHECK(char_class(0x02B0) == CharClass::letter);   // modifier letter, Lm
  CHECK(char_class(U'7') == CharClass::number);
  CHECK(char_class(0x00BD) == CharClass::number);   // ½, No
  CHECK(char_class(0x216B) == CharClass::number);   // Roman numeral twelve, Nl
  CHECK(char_class(0x0663) == CharClass::number);   // Arabic-Indic three, Nd
  CHECK(char_class(0x0301) == CharClass::other);    // combining acute, Mn
  CHECK(char_class(0x1F600) == CharClass::other);   // emoji, So
  CHECK(char_class(0xFEFF) == CharClass::other);    // BOM: Cf, not White_Space (JavaScript's \s has it)
  CHECK(char_class(0x200B) == CharClass::other);    // zero-width space: Cf
  CHECK(char_class(0x001C) == CharClass::other);    // str.isspace() but not White_Space
  CHECK(char_class(0x0085) == CharClass::whitespace);  // NEL (JavaScript's \s lacks it)
  for (char32_t c : {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000, 0x2005, 0x200A, 0x2028,
                     0x2029, 0x202F, 0x205F, 0x3000})
    CHECK(char_class(c) == CharClass::whitespace);
}

TEST_CASE("words, numbers and punctuation take one leading space", "[tokenizer][pretokenize]") {
  CHECK(pieces("Hello world") == V{"Hello", " world"});
  CHECK(pieces("abc123def 4ever") == V{"abc", "123", "def", " 4", "ever"});
  CHECK(pieces("Hello!!! (x)") == V{"Hello", "!!!", " (", "x", ")"});
  CHECK(pieces("e\xCC\x81" "cole") == V{"e", "\xCC\x81", "cole"});  // the combining mark is "other"
  CHECK(pieces("") == V{});
}

TEST_CASE("contractions are lowercase only", "[tokenizer][pretokenize]") {
  CHECK(pieces("I'm you'll they've it's we'd you're don't") ==
        V{"I", "'m", " you", "'ll", " they", "'ve", " it", "'s", " we", "'d", " you", "'re", " don", "'t"});
  CHECK(pieces("I'M IT'S YOU'LL") == V{"I", "'", "M", " IT", "'", "S", " YOU", "'", "LL"});
  CHECK(pieces("'lx") == V{"'", "lx"});          // no 'l alternative
  CHECK(pieces(" 's") == V{" '", "s"});           // at the space no contraction matches
  CHECK(pieces("!'s") == V{"!'", "s"});           // the punctuation run takes the apostrophe
  CHECK(pieces("'sabc") == V{"'s", "abc"});
}

TEST_CASE("a whitespace run before a non-space gives its last character to the next piece",
          "[tokenizer][pretokenize]") {
  CHECK(pieces("a   b") == V{"a", "  ", " b"});
  // \s+(?!\S) backtracks "\n\n" to "\n"; the second "\n", alone before "b", is \s+.
  CHECK(pieces("a\n\nb") == V{"a", "\n", "\n", "b"});
  CHECK(pieces("a\n\n\nb") == V{"a", "\n\n", "\n", "b"});
  CHECK(pieces("a \n b") == V{"a", " \n", " b"});
  CHECK(pieces("a  .") == V{"a", " ", " ."});
  CHECK(pieces("a\t\tb") == V{"a", "\t", "\t", "b"});
  CHECK(pieces("   leading") == V{"  ", " leading"});
  CHECK(pieces("trailing   ") == V{"trailing", "   "});  // at the end the run stays whole
  CHECK(pieces("x \n \t") == V{"x", " \n \t"});
  CHECK(pieces("     ") == V{"     "});
  CHECK(pieces("\n") == V{"\n"});
}

TEST_CASE("\\s is Unicode White_Space, not JavaScript's \\s", "[tokenizer][pretokenize]") {
  const std::string nel = "\xC2\x85", nbsp = "\xC2\xA0", bom = "\xEF\xBB\xBF", ideo = "\xE3\x80\x80";
  CHECK(pieces("a" + nel + "b") == V{"a", nel, "b"});
  CHECK(pieces("a " + nel + "b") == V{"a", " ", nel, "b"});
  CHECK(pieces("a" + nbsp + "b") == V{"a", nbsp, "b"});
  CHECK(pieces("a" + bom + "b") == V{"a", bom, "b"});          // "other", a piece of its own here
  CHECK(pieces("a " + bom + "b") == V{"a", " " + bom, "b"});    // " ?[^\s\p{L}\p{N}]+"
  CHECK(pieces("x" + ideo + ideo + "y") == V{"x", ideo, ideo, "y"});
  CHECK(pieces("a\x1c" "b") == V{"a", "\x1c", "b"});
}

TEST_CASE("pieces are non-empty and concatenate to the text", "[tokenizer][pretokenize]") {
  // Random strings over a pool with every class, multi-byte characters and apostrophe contractions.
  const char32_t pool[] = {U'a', U'Z', U's', U't', U'l', U'\'', U' ', U' ', U'\n', U'\t', U'7', U'!', U'.',
                           0x85, 0xA0, 0xFEFF, 0x3000, 0x4E00, 0x0301, 0x1F600, 0x00BD, 0x2028, 0x1C};
  std::mt19937 rng(7);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string text;
    const int n = static_cast<int>(rng() % 40);
    for (int k = 0; k < n; ++k) utf8::append_code_point(pool[rng() % (sizeof pool / sizeof pool[0])], text);
    std::string joined;
    bool empty_piece = false;
    for_each_gpt2_pretoken(text, [&](std::string_view p) {
      empty_piece = empty_piece || p.empty();
      joined.append(p);
    });
    CAPTURE(text);
    REQUIRE_FALSE(empty_piece);
    REQUIRE(joined == text);
  }
}

TEST_CASE("ill-formed bytes are never read out of bounds and still tile the input", "[tokenizer][pretokenize]") {
  std::mt19937 rng(13);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string bytes(rng() % 12, '\0');
    for (char& b : bytes) b = static_cast<char>(rng() % 2 ? 0x80 + rng() % 0x80 : rng() % 0x80);
    std::string joined;
    for_each_gpt2_pretoken(bytes, [&](std::string_view p) { joined.append(p); });
    REQUIRE(joined == bytes);
  }
}
