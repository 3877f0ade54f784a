// Unicode helpers for the tokenizer pipeline: UTF-8 decoding/validation, the character
// classes HF tokenizers uses (Rust's char methods and BERT's), and normalization forms
// reported as (char, change) sequences so that alignments can be tracked.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xling::tokenize {

// (output char, change) as HF's NormalizedString::transform takes them: 0 = replaces one
// input char, +1 = inserted after the previous, -n = replaces one char and removes n more.
using CharChange = std::pair<char32_t, int>;

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
std::string to_utf8(char32_t cp);
std::vector<char32_t> to_codepoints(std::string_view s);

// Byte offset of the first invalid UTF-8 sequence, or npos when `s` is valid.
std::size_t find_invalid_utf8(std::string_view s);
// Replaces every invalid sequence with U+FFFD (as Python's errors="replace").
std::string replace_invalid_utf8(std::string_view s);

bool is_whitespace(char32_t c);        // Rust char::is_whitespace (White_Space property)
bool is_alphanumeric(char32_t c);      // letters and numbers (Rust char::is_alphanumeric, approx.)
bool is_regex_word_char(char32_t c);   // regex \w: letters, marks, Nd, Nl, Pc, joiners
bool is_punctuation(char32_t c);       // Unicode P*, as HF's (pre-Unicode-10) tables classify it
bool is_bert_punctuation(char32_t c);  // ASCII punctuation or P*
bool is_bert_control(char32_t c);      // Cc/Cf/Co/Cs except \t \n \r
bool is_bert_whitespace(char32_t c);   // \t \n \r or White_Space
bool is_chinese_char(char32_t c);      // CJK ideograph blocks as BERT defines them
bool is_letter(char32_t c);            // L*
bool is_number(char32_t c);            // N*
bool is_mark_nonspacing(char32_t c);   // Mn, as HF's BERT tables classify it
bool is_combining_mark(char32_t c);    // Mn, Mc, Me (StripAccents)

enum class NormalForm { kNFC, kNFD, kNFKC, kNFKD };
// Normalizes `s`, appending (char, change) pairs per HF's alignment conventions.
void normalize_changes(std::string_view s, NormalForm form, std::vector<CharChange>& out);
// Full lowercase mapping (Rust char::to_lowercase): appends 1 or more chars.
void to_lowercase(char32_t c, std::vector<char32_t>& out);

// GPT-2 byte-level alphabet: byte -> printable char, and back (-1 when not in the alphabet).
char32_t byte_to_char(uint8_t b);
int char_to_byte(char32_t c);

// Grapheme cluster boundaries (extended): byte offsets where clusters start, plus s.size().
std::vector<std::size_t> grapheme_starts(std::string_view s);

}  // namespace xling::tokenize
