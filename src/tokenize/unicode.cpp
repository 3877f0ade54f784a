// Unicode helpers (see unicode.hpp). Character data comes from utf8proc.
#include "tokenize/unicode.hpp"

#include <algorithm>
#include <array>

#include <utf8proc.h>

namespace xling::tokenize {

void append_utf8(std::string& out, char32_t cp) {
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

std::string to_utf8(char32_t cp) {
  std::string s;
  append_utf8(s, cp);
  return s;
}

std::vector<char32_t> to_codepoints(std::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    char32_t c;
    i += static_cast<std::size_t>(decode_utf8(s, i, c));
    out.push_back(c);
  }
  return out;
}

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 when invalid (overlongs, surrogates and
// code points past U+10FFFF are invalid, as in Python and Rust).
int valid_sequence(std::string_view s, std::size_t i) {
  auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b0 = at(i);
  std::size_t left = s.size() - i;
  auto cont = [&](std::size_t k) { return k < s.size() && (at(k) & 0xC0) == 0x80; };
  if (b0 < 0x80) return 1;
  if (b0 >= 0xC2 && b0 <= 0xDF) return left >= 2 && cont(i + 1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (left < 3 || !cont(i + 1) || !cont(i + 2)) return 0;
    unsigned char b1 = at(i + 1);
    if (b0 == 0xE0 && b1 < 0xA0) return 0;
    if (b0 == 0xED && b1 >= 0xA0) return 0;
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (left < 4 || !cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    unsigned char b1 = at(i + 1);
    if (b0 == 0xF0 && b1 < 0x90) return 0;
    if (b0 == 0xF4 && b1 >= 0x90) return 0;
    return 4;
  }
  return 0;
}

}  // namespace

std::size_t find_invalid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    int n = valid_sequence(s, i);
    if (n == 0) return i;
    i += static_cast<std::size_t>(n);
  }
  return std::string_view::npos;
}

std::string replace_invalid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    int n = valid_sequence(s, i);
    if (n > 0) {
      out.append(s.substr(i, static_cast<std::size_t>(n)));
      i += static_cast<std::size_t>(n);
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

bool is_whitespace(char32_t c) {
  if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D);
  switch (c) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

namespace {
utf8proc_category_t category(char32_t c) {
  if (c > 0x10FFFF) return UTF8PROC_CATEGORY_CN;
  return utf8proc_category(static_cast<utf8proc_int32_t>(c));
}
}  // namespace

bool is_letter(char32_t c) {
  auto k = category(c);
  return k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO;
}

bool is_number(char32_t c) {
  auto k = category(c);
  return k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO;
}

bool is_alphanumeric(char32_t c) {
  if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  return is_letter(c) || is_number(c);
}

bool is_punctuation(char32_t c) {
  auto k = category(c);
  return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

bool is_bert_punctuation(char32_t c) {
  if (c < 0x80) {
    return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
  }
  return is_punctuation(c);
}

bool is_bert_whitespace(char32_t c) { return c == '\t' || c == '\n' || c == '\r' || is_whitespace(c); }

bool is_bert_control(char32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  auto k = category(c);
  return k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF || k == UTF8PROC_CATEGORY_CN ||
         k == UTF8PROC_CATEGORY_CO || k == UTF8PROC_CATEGORY_CS;
}

bool is_chinese_char(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

bool is_mark_nonspacing(char32_t c) { return category(c) == UTF8PROC_CATEGORY_MN; }

namespace {

int combining_class(char32_t c) {
  if (c > 0x10FFFF) return 0;
  return utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->combining_class;
}

}  // namespace

void normalize_changes(std::string_view s, NormalForm form, std::vector<CharChange>& out) {
  // Segment at starters (combining class 0): normalization never crosses such boundaries
  // except for Hangul/compositions with a following non-starter, which stay in one segment.
  int options = UTF8PROC_STABLE;
  switch (form) {
    case NormalForm::kNFC: options |= UTF8PROC_COMPOSE; break;
    case NormalForm::kNFD: options |= UTF8PROC_DECOMPOSE; break;
    case NormalForm::kNFKC: options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
    case NormalForm::kNFKD: options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
  }
  std::vector<char32_t> cps = to_codepoints(s);
  std::vector<utf8proc_int32_t> buf;
  std::size_t i = 0;
  while (i < cps.size()) {
    std::size_t j = i + 1;
    // A segment: one char and the non-starters after it; Hangul L+V(+T) jamo also compose.
    while (j < cps.size() && (combining_class(cps[j]) != 0 ||
                              (cps[j] >= 0x1160 && cps[j] <= 0x11FF && cps[j - 1] >= 0x1100 && cps[j - 1] <= 0x11A7))) {
      ++j;
    }
    std::size_t m = j - i;
    bool ascii = m == 1 && cps[i] < 0x80;
    if (ascii) {
      out.emplace_back(cps[i], 0);
      i = j;
      continue;
    }
    buf.assign(cps.begin() + static_cast<std::ptrdiff_t>(i), cps.begin() + static_cast<std::ptrdiff_t>(j));
    // Decompose char by char into a growing buffer, then compose / reorder.
    std::vector<utf8proc_int32_t> dec(m * 18 + 8);
    utf8proc_ssize_t n = 0;
    for (std::size_t k = 0; k < m; ++k) {
      int last_boundclass = 0;
      utf8proc_ssize_t r = utf8proc_decompose_char(buf[k], dec.data() + n, static_cast<utf8proc_ssize_t>(dec.size()) - n,
                                                   static_cast<utf8proc_option_t>(options), &last_boundclass);
      if (r < 0) { n = -1; break; }
      n += r;
    }
    if (n < 0) {
      for (std::size_t k = i; k < j; ++k) out.emplace_back(cps[k], 0);
      i = j;
      continue;
    }
    // Canonical ordering (utf8proc does it in utf8proc_decompose, not per char): stable
    // sort of every run of non-starters by combining class.
    for (utf8proc_ssize_t a = 0; a < n;) {
      if (combining_class(static_cast<char32_t>(dec[a])) == 0) {
        ++a;
        continue;
      }
      utf8proc_ssize_t b = a;
      while (b < n && combining_class(static_cast<char32_t>(dec[b])) != 0) ++b;
      std::stable_sort(dec.begin() + a, dec.begin() + b, [](utf8proc_int32_t x, utf8proc_int32_t y) {
        return combining_class(static_cast<char32_t>(x)) < combining_class(static_cast<char32_t>(y));
      });
      a = b;
    }
    // Optional composition via utf8proc_normalize_utf32.
    n = utf8proc_normalize_utf32(dec.data(), n, static_cast<utf8proc_option_t>(options));
    std::size_t produced = n < 0 ? 0 : static_cast<std::size_t>(n);
    for (std::size_t k = 0; k < produced; ++k) {
      int change = k < m ? 0 : 1;
      out.emplace_back(static_cast<char32_t>(dec[k]), change);
    }
    if (produced < m) {
      int removed = static_cast<int>(m - produced);
      if (produced > 0) out.back().second -= removed;
    }
    i = j;
  }
}

void to_lowercase(char32_t c, std::vector<char32_t>& out) {
  if (c == 0x130) {  // the only unconditional multi-char lowercase mapping
    out.push_back('i');
    out.push_back(0x307);
    return;
  }
  if (c < 0x80) {
    out.push_back(c >= 'A' && c <= 'Z' ? c + 32 : c);
    return;
  }
  out.push_back(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
}

namespace {

struct ByteTables {
  std::array<char32_t, 256> to_char{};
  std::vector<int> to_byte;  // indexed by char, up to 0x200 + 256
  ByteTables() {
    to_byte.assign(0x400, -1);
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      char32_t c = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + n++);
      to_char[static_cast<std::size_t>(b)] = c;
      to_byte[c] = b;
    }
  }
};

const ByteTables& byte_tables() {
  static const ByteTables t;
  return t;
}

}  // namespace

char32_t byte_to_char(uint8_t b) { return byte_tables().to_char[b]; }

int char_to_byte(char32_t c) {
  const auto& t = byte_tables();
  return c < t.to_byte.size() ? t.to_byte[c] : -1;
}

std::vector<std::size_t> grapheme_starts(std::string_view s) {
  std::vector<std::size_t> out;
  utf8proc_int32_t state = 0;
  char32_t prev = 0;
  for (std::size_t i = 0; i < s.size();) {
    char32_t c;
    int n = decode_utf8(s, i, c);
    if (i == 0 || utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(prev),
                                                    static_cast<utf8proc_int32_t>(c), &state)) {
      out.push_back(i);
    }
    prev = c;
    i += static_cast<std::size_t>(n);
  }
  out.push_back(s.size());
  return out;
}

}  // namespace xling::tokenize
