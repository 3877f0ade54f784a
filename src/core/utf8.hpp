// UTF-8 primitives shared by the tokenizers and the metrics: decoding, encoding, and
// validation with Python's rules (no overlongs, surrogates or code points past U+10FFFF).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace xling::core {

// Decodes the UTF-8 char at s[i]; returns its length (1..4). `s` must be valid UTF-8.
inline int decode_utf8(std::string_view s, std::size_t i, char32_t& cp) {
  auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) { cp = b0; return 1; }
  if (b0 < 0xE0) { cp = ((b0 & 0x1Fu) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3Fu); return 2; }
  if (b0 < 0xF0) {
    cp = ((b0 & 0x0Fu) << 12) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 6) |
         (static_cast<unsigned char>(s[i + 2]) & 0x3Fu);
    return 3;
  }
  cp = ((b0 & 0x07u) << 18) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 12) |
       ((static_cast<unsigned char>(s[i + 2]) & 0x3Fu) << 6) | (static_cast<unsigned char>(s[i + 3]) & 0x3Fu);
  return 4;
}

inline int utf8_len(char32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }
void append_utf8(std::string& out, char32_t cp);
std::u32string utf8_to_u32(std::string_view s);  // `s` must be valid UTF-8

// Byte offset of the first invalid UTF-8 sequence, or npos when `s` is valid.
std::size_t find_invalid_utf8(std::string_view s);
// Replaces every invalid sequence with U+FFFD (as Python's errors="replace").
std::string replace_invalid_utf8(std::string_view s);

}  // namespace xling::core
