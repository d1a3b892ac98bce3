// SPDX-License-Identifier: MIT
// UTF-8 validation and repair for the tokenizer. Ill-formed input is never dropped and never passed
// on as raw bytes: each *maximal subpart* of an ill-formed sequence becomes one U+FFFD, the practice
// the Unicode Standard recommends (ch. 3.9, "U+FFFD Substitution of Maximal Subparts", Table 3-8)
// and the one the WHATWG Encoding Standard's UTF-8 decoder (TextDecoder) and Python's
// bytes.decode("utf-8", "replace") follow, so golden ids made in those environments agree with ours.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace prefopt {

namespace utf8 {

/// U+FFFD REPLACEMENT CHARACTER, UTF-8 encoded.
inline constexpr std::string_view replacement_character = "\xEF\xBF\xBD";

/// One step of decoding: a code point and the bytes it used, or (valid == false) the length of the
/// maximal subpart of an ill-formed sequence that starts here (always >= 1).
struct DecodeStep {
  char32_t code_point;
  std::uint32_t length;
  bool valid;
};

/// Decodes the sequence starting at p[0], given avail >= 1 readable bytes. The well-formed
/// sequences are those of the Unicode Standard's Table 3-7: the second byte's range depends on the
/// lead (E0: A0..BF, ED: 80..9F (no surrogates), F0: 90..BF, F4: 80..8F (nothing above U+10FFFF));
/// C0, C1, F5..FF and a lone continuation byte are ill-formed on their own.
inline DecodeStep decode_step(const unsigned char* p, std::size_t avail) noexcept {
  const unsigned char b0 = p[0];
  if (b0 < 0x80) return {b0, 1, true};
  std::uint32_t need;
  unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte
  char32_t cp;
  if (b0 < 0xC2) {
    return {0, 1, false};
  } else if (b0 < 0xE0) {
    need = 1;
    cp = b0 & 0x1F;
  } else if (b0 < 0xF0) {
    need = 2;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 < 0xF5) {
    need = 3;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return {0, 1, false};
  }
  for (std::uint32_t k = 1; k <= need; ++k) {
    // The bytes accepted so far are the maximal subpart when the next one is missing or wrong.
    if (k >= avail) return {0, k, false};
    const unsigned char b = p[k];
    if (b < lo || b > hi) return {0, k, false};
    cp = (cp << 6) | (b & 0x3F);
    lo = 0x80;
    hi = 0xBF;
  }
  return {cp, need + 1, true};
}

namespace detail {
// Length of the leading all-ASCII prefix, eight bytes at a time.
inline std::size_t ascii_prefix(const unsigned char* p, std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, p + i, 8);
    if (w & 0x8080808080808080ull) break;
  }
  while (i < n && p[i] < 0x80) ++i;
  return i;
}
}  // namespace detail

/// Whether `text` is well-formed UTF-8 (Unicode Table 3-7).
inline bool is_valid(std::string_view text) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    i += detail::ascii_prefix(p + i, n - i);
    if (i == n) break;
    const DecodeStep s = decode_step(p + i, n - i);
    if (!s.valid) return false;
    i += s.length;
  }
  return true;
}

/// Appends `text` to `out` with every maximal subpart of an ill-formed sequence replaced by U+FFFD.
/// Returns the number of replacements made.
inline std::size_t append_replacing_invalid(std::string_view text, std::string& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t replaced = 0;
  std::size_t i = 0;
  std::size_t copied = 0;  // text[0, copied) is already in out
  while (i < n) {
    i += detail::ascii_prefix(p + i, n - i);
    if (i == n) break;
    const DecodeStep s = decode_step(p + i, n - i);
    if (!s.valid) {
      out.append(text.data() + copied, i - copied);
      out.append(replacement_character);
      ++replaced;
      copied = i + s.length;
    }
    i += s.length;
  }
  out.append(text.data() + copied, n - copied);
  return replaced;
}

/// `text` with every maximal subpart of an ill-formed sequence replaced by U+FFFD.
inline std::string replace_invalid(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  append_replacing_invalid(text, out);
  return out;
}

/// Appends the UTF-8 encoding of a Unicode scalar value (cp <= U+10FFFF, not a surrogate).
inline void append_code_point(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace utf8
}  // namespace prefopt
