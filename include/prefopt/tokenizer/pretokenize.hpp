// SPDX-License-Identifier: MIT
// GPT-2's pre-tokenizer: the text is cut into pieces by the regular expression of OpenAI's
// gpt-2 src/encoder.py (run there by Python's `regex` module), and each piece is BPE-encoded alone:
//
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// Here it is a hand-written scanner (no std::regex, no backtracking) that returns exactly the
// matches of `regex.findall(pattern, text)`:
//   - \p{L} / \p{N}: general categories L* / N* from utf8proc (utf8proc 2.8 = Unicode 15.0).
//   - \s: Unicode White_Space, as in the `regex` module, Rust tiktoken and HF tokenizers:
//     U+0009..000D, 0020, 0085, 00A0, 1680, 2000..200A, 2028, 2029, 202F, 205F, 3000.
//     (JavaScript's \s lacks U+0085 and adds U+FEFF; U+001C..001F, which Python's str.isspace()
//     accepts, are not White_Space.)
//   - The contractions are case-sensitive: GPT-2's pattern has no IGNORECASE, so "'S" is "'" "S".
//   - " ?" is U+0020 only.
//   - \s+(?!\S): a whitespace run that is followed by a non-space gives its last character back,
//     so "a   b" is "a" "  " " b"; a run at the end of the text is kept whole; a lone whitespace
//     character before a non-space (e.g. "\n" in "\nb") is matched by the final \s+.
// Every code point is exactly one of letter, number, whitespace, other, so the alternatives cover
// everything and the scan never fails.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <utf8proc.h>

namespace prefopt {

/// The classes GPT-2's pattern distinguishes. `other` is [^\s\p{L}\p{N}] (punctuation, symbols,
/// marks, controls that are not White_Space, unassigned code points).
enum class CharClass : std::uint8_t { other, letter, number, whitespace };

/// Unicode's White_Space property (PropList.txt), which is \s of Python's `regex` module.
inline constexpr bool is_unicode_white_space(char32_t c) noexcept {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

namespace detail {
constexpr std::array<CharClass, 128> make_ascii_classes() {
  std::array<CharClass, 128> t{};
  for (char32_t c = 0; c < 128; ++c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) t[c] = CharClass::letter;
    else if (c >= '0' && c <= '9') t[c] = CharClass::number;
    else if (is_unicode_white_space(c)) t[c] = CharClass::whitespace;
    else t[c] = CharClass::other;
  }
  return t;
}
inline constexpr std::array<CharClass, 128> ascii_classes = make_ascii_classes();
}  // namespace detail

/// The class of one code point.
inline CharClass char_class(char32_t c) noexcept {
  if (c < 128) return detail::ascii_classes[c];
  if (is_unicode_white_space(c)) return CharClass::whitespace;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      return CharClass::letter;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return CharClass::number;
    default:
      return CharClass::other;
  }
}

namespace detail {
struct ClassedCodePoint {
  char32_t code_point;
  std::uint32_t length;  // bytes
  CharClass cls;
};

// Decodes the code point at s[i] of valid UTF-8 (the caller guarantees it). On ill-formed input
// it still never reads past s[n - 1]: a sequence cut by the end is one "other" code point.
inline ClassedCodePoint classed_code_point_at(const unsigned char* s, std::size_t i, std::size_t n) noexcept {
  const unsigned char b0 = s[i];
  if (b0 < 0x80) return {b0, 1, ascii_classes[b0]};
  const std::uint32_t len = b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4;
  if (n - i < len) return {0xFFFD, static_cast<std::uint32_t>(n - i), CharClass::other};
  char32_t cp;
  if (len == 2) {
    cp = ((b0 & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu);
  } else if (len == 3) {
    cp = ((b0 & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu);
  } else {
    cp = ((b0 & 0x07u) << 18) | ((s[i + 1] & 0x3Fu) << 12) | ((s[i + 2] & 0x3Fu) << 6) | (s[i + 3] & 0x3Fu);
  }
  return {cp, len, char_class(cp)};
}
}  // namespace detail

/// Calls emit(std::string_view piece) for each piece of GPT-2's pre-tokenization of `text`, in
/// order; the pieces concatenate to `text`. Precondition: `text` is valid UTF-8 (see utf8.hpp);
/// ill-formed input gives unspecified pieces but is never read out of bounds.
template <class Emit>
void for_each_gpt2_pretoken(std::string_view text, Emit&& emit) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  // End of the run of `cls` code points that starts at j.
  const auto run_end = [&](std::size_t j, CharClass cls) {
    while (j < n) {
      if (s[j] < 0x80) {  // ASCII fast path
        if (detail::ascii_classes[s[j]] != cls) break;
        ++j;
        continue;
      }
      const detail::ClassedCodePoint c = detail::classed_code_point_at(s, j, n);
      if (c.cls != cls) break;
      j += c.length;
    }
    return j;
  };

  std::size_t i = 0;
  while (i < n) {
    // 's|'t|'re|'ve|'m|'ll|'d (lowercase only)
    if (s[i] == '\'' && i + 1 < n) {
      const unsigned char a = s[i + 1];
      if (a == 's' || a == 't' || a == 'm' || a == 'd') {
        emit(text.substr(i, 2));
        i += 2;
        continue;
      }
      if (i + 2 < n) {
        const unsigned char b = s[i + 2];
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) {
          emit(text.substr(i, 3));
          i += 3;
          continue;
        }
      }
    }
    const detail::ClassedCodePoint c = detail::classed_code_point_at(s, i, n);
    std::size_t end;
    if (c.cls != CharClass::whitespace) {
      // \p{L}+ | \p{N}+ | [^\s\p{L}\p{N}]+
      end = run_end(i + c.length, c.cls);
    } else {
      // " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+" with the optional space present.
      if (c.code_point == ' ' && i + 1 < n) {
        const detail::ClassedCodePoint next = detail::classed_code_point_at(s, i + 1, n);
        if (next.cls != CharClass::whitespace) {
          end = run_end(i + 1 + next.length, next.cls);
          emit(text.substr(i, end - i));
          i = end;
          continue;
        }
      }
      // \s+(?!\S) backtracks by one character when the run is followed by a non-space; if that
      // leaves nothing (a single character), \s+ takes the character alone.
      std::size_t last = i;  // start of the run's last character
      std::size_t j = i + c.length;
      while (j < n) {
        const detail::ClassedCodePoint d = detail::classed_code_point_at(s, j, n);
        if (d.cls != CharClass::whitespace) break;
        last = j;
        j += d.length;
      }
      end = (j < n && last > i) ? last : j;
    }
    emit(text.substr(i, end - i));
    i = end;
  }
}

}  // namespace prefopt
