// Unicode helpers (see unicode.hpp). Character data comes from utf8proc.
#include "tokenize/unicode.hpp"

#include <algorithm>
#include <array>

#include <utf8proc.h>

namespace xling::tokenize {

std::string to_utf8(char32_t cp) {
  std::string s;
  append_utf8(s, cp);
  return s;
}

std::vector<char32_t> to_codepoints(std::string_view s) {
  std::u32string u = core::utf8_to_u32(s);
  return {u.begin(), u.end()};
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
#include "tokenize/unicode_delta.inc"

template <std::size_t N>
bool flipped(const char32_t (&table)[N], char32_t c) {
  return std::binary_search(std::begin(table), std::end(table), c);
}

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

bool is_regex_word_char(char32_t c) {
  if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  if (c == 0x200C || c == 0x200D) return true;  // Join_Control
  auto k = category(c);
  return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) || (k >= UTF8PROC_CATEGORY_MN && k <= UTF8PROC_CATEGORY_ME) ||
         k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_PC;
}

bool is_punctuation(char32_t c) {
  auto k = category(c);
  return (k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO) != flipped(kPunctuationFlip, c);
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
  // HF's is_other(): Cc, Cf, Co, Cs -- unassigned code points (Cn) are kept.
  return (k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF || k == UTF8PROC_CATEGORY_CO ||
          k == UTF8PROC_CATEGORY_CS) != flipped(kControlFlip, c);
}

bool is_chinese_char(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

bool is_mark_nonspacing(char32_t c) { return (category(c) == UTF8PROC_CATEGORY_MN) != flipped(kNonspacingMarkFlip, c); }

bool is_combining_mark(char32_t c) {
  auto k = category(c);
  return k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_MC || k == UTF8PROC_CATEGORY_ME;
}

namespace {

int combining_class(char32_t c) {
  if (c > 0x10FFFF) return 0;
  if (flipped(kCombiningClassZero, c)) return 0;  // a mark newer than HF's normalization tables
  return utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->combining_class;
}

}  // namespace

namespace {

// Primary composite of (a, b), or 0.
char32_t compose_pair(char32_t a, char32_t b) {
  utf8proc_int32_t buf[2] = {static_cast<utf8proc_int32_t>(a), static_cast<utf8proc_int32_t>(b)};
  utf8proc_ssize_t n = utf8proc_normalize_utf32(buf, 2, static_cast<utf8proc_option_t>(UTF8PROC_COMPOSE | UTF8PROC_STABLE));
  return n == 1 ? static_cast<char32_t>(buf[0]) : 0;
}

// Original chars a (char, change) pair consumes in NormalizedString::transform.
int consumed(int change) { return change > 0 ? 0 : 1 - change; }

}  // namespace

void normalize_changes(std::string_view s, NormalForm form, std::vector<CharChange>& out) {
  // As the unicode-normalization-alignments crate HF uses: every input char decomposes into
  // (first, 0), (rest, +1); non-starter runs are put in canonical order (pairs move with
  // their chars); composition merges a char into its starter, which takes over what the
  // removed char consumed.
  const bool compat = form == NormalForm::kNFKC || form == NormalForm::kNFKD;
  const bool compose = form == NormalForm::kNFC || form == NormalForm::kNFKC;
  int options = UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0);
  std::vector<CharChange> dec;
  dec.reserve(s.size());
  utf8proc_int32_t tmp[32];
  for (std::size_t i = 0; i < s.size();) {
    char32_t c;
    i += static_cast<std::size_t>(decode_utf8(s, i, c));
    if (c < 0x80) {
      dec.emplace_back(c, 0);
      continue;
    }
    int boundclass = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), tmp, 32,
                                                 static_cast<utf8proc_option_t>(options), &boundclass);
    if (n <= 0 || n > 32) {
      dec.emplace_back(c, 0);
      continue;
    }
    for (utf8proc_ssize_t k = 0; k < n; ++k) dec.emplace_back(static_cast<char32_t>(tmp[k]), k == 0 ? 0 : 1);
  }
  // Canonical ordering.
  for (std::size_t a = 0; a < dec.size();) {
    if (dec[a].first < 0x300 || combining_class(dec[a].first) == 0) {
      ++a;
      continue;
    }
    std::size_t b = a;
    while (b < dec.size() && combining_class(dec[b].first) != 0) ++b;
    if (b - a > 1) {
      std::stable_sort(dec.begin() + static_cast<std::ptrdiff_t>(a), dec.begin() + static_cast<std::ptrdiff_t>(b),
                       [](const CharChange& x, const CharChange& y) {
                         return combining_class(x.first) < combining_class(y.first);
                       });
    }
    a = b;
  }
  if (!compose) {
    out.insert(out.end(), dec.begin(), dec.end());
    return;
  }
  std::size_t base = out.size();
  std::ptrdiff_t starter = -1;
  int last_class = -1;  // -1: nothing between the starter and the current char
  for (const auto& [c, change] : dec) {
    int cc = c < 0x300 ? 0 : combining_class(c);
    if (starter >= 0 && (last_class == -1 || (last_class != 0 && last_class < cc))) {
      CharChange& st = out[static_cast<std::size_t>(starter)];
      if (char32_t comp = compose_pair(st.first, c)) {
        int total = consumed(st.second) + consumed(change);
        st.first = comp;
        st.second = total == 0 ? 1 : 1 - total;
        continue;
      }
    }
    if (cc == 0) {
      starter = static_cast<std::ptrdiff_t>(out.size());
      last_class = -1;
    } else {
      last_class = cc;
    }
    out.emplace_back(c, change);
  }
  (void)base;
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
