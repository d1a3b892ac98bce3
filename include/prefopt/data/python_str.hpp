// SPDX-License-Identifier: MIT
// The few Python str operations the seed notebook's data cells use, with Python 3's semantics on
// UTF-8 text: str.count, str.split(sep), str.replace, str.strip() and lower().startswith(prefix).
// count/split/replace on code points equal the same operations on UTF-8 bytes (UTF-8 is
// self-synchronising: a valid encoded needle only matches at code-point boundaries), so they work
// on bytes. strip() and lower() need code points and are decoded here. Also: strict UTF-8 checks
// (Unicode 15, table 3-7: no overlongs, no surrogates, nothing above U+10FFFF).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "prefopt/core/error.hpp"

namespace prefopt::python_str {

/// Decodes the code point starting at p[0] (p < end). Returns its length in bytes (1-4) and
/// stores it in `cp`, or returns 0 when the bytes there are not well-formed UTF-8.
inline int decode_utf8(const unsigned char* p, const unsigned char* end, char32_t& cp) noexcept {
  const unsigned char b0 = p[0];
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  int len;
  unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte (table 3-7)
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    cp = b0 & 0x1Fu;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    cp = b0 & 0x0Fu;
    if (b0 == 0xE0) lo = 0xA0;  // no overlongs
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    cp = b0 & 0x07u;
    if (b0 == 0xF0) lo = 0x90;  // no overlongs
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (end - p < len) return 0;
  if (p[1] < lo || p[1] > hi) return 0;
  cp = (cp << 6) | (p[1] & 0x3Fu);
  for (int i = 2; i < len; ++i) {
    if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    cp = (cp << 6) | (p[i] & 0x3Fu);
  }
  return len;
}

/// Byte offset of the first byte that is not part of well-formed UTF-8, or npos.
inline std::size_t first_invalid_utf8(std::string_view text) noexcept {
  const auto* begin = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = begin + text.size();
  char32_t cp;
  for (const unsigned char* p = begin; p < end;) {
    if (*p < 0x80) {
      ++p;
      continue;
    }
    const int len = decode_utf8(p, end, cp);
    if (len == 0) return static_cast<std::size_t>(p - begin);
    p += len;
  }
  return std::string_view::npos;
}

/// Python 3's str.isspace() for one code point: bidirectional class WS, B or S, or category Zs.
/// Spelled out (CPython's _PyUnicode_IsWhitespace, unchanged since Unicode 6.3 removed U+180E):
/// U+0009-000D, U+001C-001F, U+0020, U+0085, U+00A0, U+1680, U+2000-200A, U+2028, U+2029,
/// U+202F, U+205F, U+3000. Not U+200B (zero-width space) and not U+FEFF (BOM).
constexpr bool is_space(char32_t c) noexcept {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

/// Python's str.strip() with no argument: removes is_space() code points from both ends.
/// Bytes that are not well-formed UTF-8 (which a Python str cannot hold) are never stripped.
inline std::string_view strip(std::string_view text) noexcept {
  const auto* begin = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = begin + text.size();
  char32_t cp;
  while (begin < end) {
    const int len = decode_utf8(begin, end, cp);
    if (len == 0 || !is_space(cp)) break;
    begin += len;
  }
  while (end > begin) {
    const unsigned char* start = end - 1;  // back up over at most 3 continuation bytes
    while (start > begin && end - start < 4 && (*start & 0xC0) == 0x80) --start;
    const int len = decode_utf8(start, end, cp);
    if (len == 0 || start + len != end || !is_space(cp)) break;
    end = start;
  }
  return {reinterpret_cast<const char*>(begin), static_cast<std::size_t>(end - begin)};
}

/// Python's str.count(sub) for a non-empty `sub`: non-overlapping occurrences, left to right.
inline std::size_t count(std::string_view text, std::string_view sub) {
  PREFOPT_CHECK(!sub.empty(), "python_str::count: empty substring");
  std::size_t n = 0;
  for (std::size_t at = text.find(sub); at != std::string_view::npos; at = text.find(sub, at + sub.size())) ++n;
  return n;
}

/// Python's str.split(sep) for a non-empty `sep` (Python raises ValueError on an empty one):
/// k occurrences give k + 1 parts, empty parts included.
inline std::vector<std::string_view> split(std::string_view text, std::string_view sep) {
  PREFOPT_CHECK(!sep.empty(), "python_str::split: empty separator");
  std::vector<std::string_view> parts;
  std::size_t from = 0;
  for (std::size_t at = text.find(sep); at != std::string_view::npos; at = text.find(sep, from)) {
    parts.push_back(text.substr(from, at - from));
    from = at + sep.size();
  }
  parts.push_back(text.substr(from));
  return parts;
}

/// Python's str.replace(old, new) for a non-empty `old`: one left-to-right pass over the
/// original text, so text that a replacement creates is not replaced again.
inline std::string replace(std::string_view text, std::string_view old_sub, std::string_view new_sub) {
  PREFOPT_CHECK(!old_sub.empty(), "python_str::replace: empty substring");
  std::string out;
  out.reserve(text.size());
  std::size_t from = 0;
  for (std::size_t at = text.find(old_sub); at != std::string_view::npos; at = text.find(old_sub, from)) {
    out.append(text.substr(from, at - from));
    out.append(new_sub);
    from = at + old_sub.size();
  }
  out.append(text.substr(from));
  return out;
}

/// Python's text.lower().startswith(prefix) for an ASCII `prefix` (ArgumentError otherwise).
/// lower() is Unicode full lowercasing, but only two non-ASCII code points lower to anything that
/// starts with ASCII (checked over all of Unicode 14 with CPython 3.11): U+212A KELVIN SIGN -> "k"
/// and U+0130 LATIN CAPITAL LETTER I WITH DOT ABOVE -> "i" + U+0307. Every other non-ASCII code
/// point lowers to non-ASCII text, which an ASCII prefix cannot match, so the comparison stops
/// there. Ill-formed UTF-8 bytes never match either.
inline bool lower_starts_with(std::string_view text, std::string_view prefix) {
  for (char c : prefix)
    PREFOPT_CHECK(static_cast<unsigned char>(c) < 0x80, "python_str::lower_starts_with: the prefix \"",
                  prefix, "\" must be ASCII");
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  std::size_t matched = 0;
  char32_t cp;
  while (matched < prefix.size()) {
    if (p == end) return false;
    const int len = decode_utf8(p, end, cp);
    if (len == 0) return false;
    p += len;
    char lowered;
    bool non_ascii_follows = false;  // U+0130's lowercase continues with U+0307
    if (cp < 0x80) {
      lowered = static_cast<char>(cp >= 'A' && cp <= 'Z' ? cp + ('a' - 'A') : cp);
    } else if (cp == 0x212A) {
      lowered = 'k';
    } else if (cp == 0x130) {
      lowered = 'i';
      non_ascii_follows = true;
    } else {
      return false;
    }
    if (prefix[matched] != lowered) return false;
    ++matched;
    if (non_ascii_follows && matched < prefix.size()) return false;
  }
  return true;
}

}  // namespace prefopt::python_str
