// SPDX-License-Identifier: MIT
// Python semantics of the seed's string operations; each expectation was checked with CPython
// 3.11 (e.g. `"\u3000 a\x1c".strip()`), noted where it is not obvious.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "prefopt/data/python_str.hpp"

using namespace prefopt;
namespace py = prefopt::python_str;

namespace {
std::string utf8(char32_t c) {
  std::string s;
  if (c < 0x80) {
    s += static_cast<char>(c);
  } else if (c < 0x800) {
    s += static_cast<char>(0xC0 | (c >> 6));
    s += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    s += static_cast<char>(0xE0 | (c >> 12));
    s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (c >> 18));
    s += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (c & 0x3F));
  }
  return s;
}
}  // namespace

TEST_CASE("is_space is exactly Python's str.isspace", "[data][python_str]") {
  // [c for c in range(0x110000) if chr(c).isspace()] with CPython 3.11.2 (Unicode 14):
  const std::vector<char32_t> python = {0x9,    0xa,    0xb,    0xc,    0xd,    0x1c,   0x1d,   0x1e,
                                        0x1f,   0x20,   0x85,   0xa0,   0x1680, 0x2000, 0x2001, 0x2002,
                                        0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a,
                                        0x2028, 0x2029, 0x202f, 0x205f, 0x3000};
  std::vector<char32_t> ours;
  for (char32_t c = 0; c < 0x110000; ++c)
    if (py::is_space(c)) ours.push_back(c);
  CHECK(ours == python);
}

TEST_CASE("strip removes Python whitespace code points from both ends only", "[data][python_str]") {
  CHECK(py::strip("  a b \n") == "a b");
  CHECK(py::strip("\x1c\x1d a \x1e\x1f") == "a");  // Python: file/group/record/unit separators are spaces
  CHECK(py::strip("\t\n\v\f\r") == "");
  for (char32_t c : {0x85, 0xa0, 0x1680, 0x2000, 0x2005, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000}) {
    CAPTURE(static_cast<unsigned>(c));
    CHECK(py::strip(utf8(c) + "x" + utf8(c) + "y" + utf8(c) + utf8(c)) == "x" + utf8(c) + "y");
  }
  // Not whitespace for Python: zero-width space, BOM, Mongolian vowel separator (since Unicode 6.3).
  for (char32_t c : {0x200b, 0xfeff, 0x180e}) CHECK(py::strip(utf8(c) + "x" + utf8(c)) == utf8(c) + "x" + utf8(c));
  // Non-space multibyte characters at the ends are kept whole.
  CHECK(py::strip(" \xc3\xa9t\xc3\xa9 ") == "\xc3\xa9t\xc3\xa9");
  CHECK(py::strip("\xf0\x9f\x99\x82 ") == "\xf0\x9f\x99\x82");
  // Ill-formed bytes (impossible in a Python str) are never stripped.
  CHECK(py::strip(" \xa0x\xc2 ") == "\xa0x\xc2");
  CHECK(py::strip("") == "");
}

TEST_CASE("count, split and replace follow Python", "[data][python_str]") {
  CHECK(py::count("Human: a Human: b", "Human: ") == 2);
  CHECK(py::count("aaaa", "aa") == 2);  // non-overlapping
  CHECK(py::count("", "x") == 0);
  CHECK(py::split("a--b----c", "--") == std::vector<std::string_view>{"a", "b", "", "c"});
  CHECK(py::split("abc", "x") == std::vector<std::string_view>{"abc"});
  CHECK(py::split("xabcx", "x") == std::vector<std::string_view>{"", "abc", ""});
  CHECK(py::replace("HuHuman: man: q", "Human: ", "") == "Human: q");  // one pass: Python gives 'Human: q'
  CHECK(py::replace("aaa", "a", "bb") == "bbbbbb");
  CHECK_THROWS_AS(py::split("a", ""), ArgumentError);
}

TEST_CASE("lower_starts_with is Python's lower().startswith for ASCII prefixes", "[data][python_str]") {
  CHECK(py::lower_starts_with("Let me explain. x", "let me explain"));
  CHECK(py::lower_starts_with("LET ME EXPLAIN", "let me explain"));
  CHECK(py::lower_starts_with("let me explainer", "let me explain"));
  CHECK_FALSE(py::lower_starts_with("let me expla", "let me explain"));
  CHECK_FALSE(py::lower_starts_with(" let me explain", "let me explain"));
  CHECK_FALSE(py::lower_starts_with("let  me explain", "let me explain"));
  // Fullwidth 'Ｌ' lowers to fullwidth 'ｌ', not 'l'.
  CHECK_FALSE(py::lower_starts_with("\xef\xbc\xac" "et me explain", "let me explain"));
  // U+212A KELVIN SIGN lowers to ASCII 'k': "\u212aey".lower() == "key".
  CHECK(py::lower_starts_with("\xe2\x84\xaa" "ey", "key"));
  // U+0130 lowers to "i\u0307": "explaİn".lower().startswith("explain") is False, "explai" is True.
  CHECK_FALSE(py::lower_starts_with("EXPLA\xc4\xb0N", "explain"));
  CHECK(py::lower_starts_with("EXPLA\xc4\xb0N", "explai"));
  CHECK(py::lower_starts_with("anything", ""));
  CHECK_THROWS_AS(py::lower_starts_with("x", "caf\xc3\xa9"), ArgumentError);
}

TEST_CASE("first_invalid_utf8 follows Unicode's well-formed table", "[data][python_str]") {
  CHECK(py::first_invalid_utf8("plain ascii") == std::string_view::npos);
  CHECK(py::first_invalid_utf8("\xc3\xa9\xe2\x80\x99\xf0\x9f\x99\x82\xf4\x8f\xbf\xbf") == std::string_view::npos);
  CHECK(py::first_invalid_utf8("ab\x80") == 2);          // lone continuation byte
  CHECK(py::first_invalid_utf8("a\xc1\xbf") == 1);       // overlong 2-byte
  CHECK(py::first_invalid_utf8("a\xe0\x9f\xbf") == 1);   // overlong 3-byte
  CHECK(py::first_invalid_utf8("a\xed\xa0\x80") == 1);   // surrogate U+D800
  CHECK(py::first_invalid_utf8("a\xf0\x8f\xbf\xbf") == 1);  // overlong 4-byte
  CHECK(py::first_invalid_utf8("a\xf4\x90\x80\x80") == 1);  // above U+10FFFF
  CHECK(py::first_invalid_utf8("a\xe2\x82") == 1);       // truncated sequence
  CHECK(py::first_invalid_utf8("a\xf5\x80\x80\x80") == 1);
  CHECK(py::first_invalid_utf8(std::string("a\0b", 3)) == std::string_view::npos);
}
