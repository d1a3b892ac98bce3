// SPDX-License-Identifier: MIT
// GPT-2's byte-to-unicode alphabet (OpenAI gpt-2, src/encoder.py, bytes_to_unicode()): every byte
// is shown as one printable code point so that vocab.json and merges.txt are plain text. Bytes
// 0x21..0x7E, 0xA1..0xAC and 0xAE..0xFF stand for themselves; the other 68 bytes (controls, space,
// 0x7F..0xA0, 0xAD) map, in increasing byte order, to U+0100..U+0143 (so ' ' -> U+0120 'Ġ',
// '\n' -> U+010A 'Ċ'). prefopt's BPE works on the bytes themselves; this mapping is only used to
// read (and write) the vocabulary files.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "prefopt/tokenizer/utf8.hpp"

namespace prefopt {

namespace detail {
constexpr bool byte_stands_for_itself(unsigned b) {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

constexpr std::array<char32_t, 256> make_byte_to_unicode() {
  std::array<char32_t, 256> table{};
  char32_t next = 256;
  for (unsigned b = 0; b < 256; ++b) table[b] = byte_stands_for_itself(b) ? char32_t(b) : next++;
  return table;
}

// Inverse over U+0000..U+0143; -1 where a code point is not in the alphabet.
constexpr std::array<std::int16_t, 0x144> make_unicode_to_byte() {
  std::array<std::int16_t, 0x144> table{};
  for (auto& v : table) v = -1;
  const std::array<char32_t, 256> forward = make_byte_to_unicode();
  for (unsigned b = 0; b < 256; ++b) table[forward[b]] = static_cast<std::int16_t>(b);
  return table;
}
}  // namespace detail

/// byte -> the code point that stands for it in GPT-2's vocabulary files.
inline constexpr std::array<char32_t, 256> byte_to_unicode = detail::make_byte_to_unicode();

/// The byte a code point of the byte-level alphabet stands for, or -1 if it is not in the alphabet.
inline int unicode_to_byte(char32_t cp) noexcept {
  static constexpr std::array<std::int16_t, 0x144> inverse = detail::make_unicode_to_byte();
  return cp < inverse.size() ? inverse[cp] : -1;
}

/// Raw bytes -> their byte-level spelling (UTF-8), as vocab.json and merges.txt write tokens.
inline std::string byte_level_encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) utf8::append_code_point(byte_to_unicode[static_cast<unsigned char>(c)], out);
  return out;
}

/// Byte-level spelling (UTF-8) -> raw bytes, appended to `bytes`. Returns false, leaving `bytes`
/// in an unspecified state, when the text is not valid UTF-8 or has a character outside the
/// alphabet (e.g. a literal space); `bad_offset` then receives the byte offset of the culprit.
inline bool byte_level_decode(std::string_view spelled, std::string& bytes, std::size_t* bad_offset = nullptr) {
  const auto* p = reinterpret_cast<const unsigned char*>(spelled.data());
  const std::size_t n = spelled.size();
  for (std::size_t i = 0; i < n;) {
    const utf8::DecodeStep s = utf8::decode_step(p + i, n - i);
    const int b = s.valid ? unicode_to_byte(s.code_point) : -1;
    if (b < 0) {
      if (bad_offset != nullptr) *bad_offset = i;
      return false;
    }
    bytes.push_back(static_cast<char>(b));
    i += s.length;
  }
  return true;
}

}  // namespace prefopt
