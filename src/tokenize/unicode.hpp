// Unicode helpers for the tokenizer pipeline: UTF-8 decoding/validation, the character
// classes HF tokenizers uses (Rust's char methods and BERT's), and normalization forms
// reported as (char, change) sequences so that alignments can be tracked.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/utf8.hpp"

namespace xling::tokenize {

// (output char, change) as HF's NormalizedString::transform takes them: 0 = replaces one
// input char, +1 = inserted after the previous, -n = replaces one char and removes n more.
using CharChange = std::pair<char32_t, int>;

using core::append_utf8;
using core::decode_utf8;
using core::find_invalid_utf8;
using core::replace_invalid_utf8;
using core::utf8_len;
std::string to_utf8(char32_t cp);
std::vector<char32_t> to_codepoints(std::string_view s);

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
