// sacrebleu 2.6.0's BLEU tokenizers and the Python string semantics they rely on (see
// sacrebleu_tokenizers.hpp). Regex substitutions are replayed as Python's re.sub applies
// them: left to right, non-overlapping, each pass over the previous pass's output.
#include "metrics/sacrebleu_tokenizers.hpp"

#include <algorithm>
#include <array>
#include <functional>
#include <utility>

#include <fmt/format.h>
#include <utf8proc.h>

#include "core/utf8.hpp"
#include "xling/errors.hpp"

namespace xling::metrics {

namespace {

struct Range {
  char32_t lo, hi;
};

template <std::size_t N>
bool in_ranges(const std::array<Range, N>& ranges, char32_t c) {
  for (const Range& r : ranges) {
    if (c >= r.lo && c <= r.hi) return true;
  }
  return false;
}

// Code points Unicode 16 and 17 assigned to P*, S* and N*. utf8proc 2.8 (Unicode 15) reports
// them unassigned, but sacrebleu's intl tokenizer uses the `regex` module, whose tables know
// them; consulted only for code points utf8proc calls Cn.
constexpr std::array<Range, 10> kNewerPunctuation{{
    {0x1B4E, 0x1B4F}, {0x1B7F, 0x1B7F}, {0x2E60, 0x2E63}, {0x10D6E, 0x10D6E}, {0x10ED0, 0x10ED0},
    {0x113D4, 0x113D5}, {0x113D7, 0x113D8}, {0x11BE1, 0x11BE1}, {0x16D6D, 0x16D6F}, {0x1E5FF, 0x1E5FF},
}};
constexpr std::array<Range, 44> kNewerSymbols{{
    {0x20C1, 0x20C4},   {0x2427, 0x2429},   {0x2B96, 0x2B96},   {0x2FFC, 0x2FFF},   {0x31E4, 0x31E5},
    {0x31EF, 0x31EF},   {0xFBC3, 0xFBD2},   {0xFD90, 0xFD91},   {0xFDC8, 0xFDCE},   {0x10D8E, 0x10D8F},
    {0x10EC9, 0x10ECA}, {0x10ED1, 0x10ED8}, {0x1CC00, 0x1CCEF}, {0x1CCFA, 0x1CCFC}, {0x1CD00, 0x1CEB3},
    {0x1CEBA, 0x1CED0}, {0x1CED2, 0x1CED4}, {0x1CEDD, 0x1CEFD}, {0x1D1EB, 0x1D1FF}, {0x1D253, 0x1D25A},
    {0x1D25D, 0x1D25E}, {0x1D260, 0x1D27F}, {0x1DB00, 0x1DB1C}, {0x1F1AE, 0x1F1AE}, {0x1F6D8, 0x1F6D9},
    {0x1F777, 0x1F77A}, {0x1F7DA, 0x1F7DB}, {0x1F7F1, 0x1F7FF}, {0x1F8B2, 0x1F8BB}, {0x1F8C0, 0x1F8C1},
    {0x1F8D0, 0x1F8D8}, {0x1FA54, 0x1FA57}, {0x1FA89, 0x1FA8F}, {0x1FABE, 0x1FABE}, {0x1FAC6, 0x1FAC6},
    {0x1FAC8, 0x1FAC8}, {0x1FACC, 0x1FACD}, {0x1FADC, 0x1FADD}, {0x1FADF, 0x1FADF}, {0x1FAE9, 0x1FAEB},
    {0x1FAEF, 0x1FAEF}, {0x1FAF9, 0x1FAFA}, {0x1FBCB, 0x1FBEF}, {0x1FBFA, 0x1FBFA},
}};
constexpr std::array<Range, 12> kNewerNumbers{{
    {0x10D40, 0x10D49}, {0x116D0, 0x116E3}, {0x11BF0, 0x11BF9}, {0x11DE0, 0x11DE9},
    {0x1246F, 0x1246F}, {0x12475, 0x1247F}, {0x12550, 0x12686}, {0x16130, 0x16139},
    {0x16D70, 0x16D79}, {0x16FF4, 0x16FF6}, {0x1CCF0, 0x1CCF9}, {0x1E5F1, 0x1E5FA},
}};

// Unicode 15 additions that utf8proc marks case-ignorable or cased but Python 3.11
// (Unicode 14, the reference venv) does not know; and Other_Lowercase / Other_Uppercase
// characters without a case mapping, which Python counts as cased.
constexpr std::array<Range, 12> kNotCaseIgnorableInPython{{
    {0x0ECE, 0x0ECE},   {0x10EFD, 0x10EFF}, {0x11241, 0x11241}, {0x11F00, 0x11F01},
    {0x11F36, 0x11F3A}, {0x11F40, 0x11F40}, {0x11F42, 0x11F42}, {0x13439, 0x13440},
    {0x13447, 0x13455}, {0x1E030, 0x1E06D}, {0x1E08F, 0x1E08F}, {0x1E4EB, 0x1E4EF},
}};
constexpr std::array<Range, 5> kCasedWithoutMapping{{
    {0x00AA, 0x00AA}, {0x00BA, 0x00BA}, {0x1F130, 0x1F149}, {0x1F150, 0x1F169}, {0x1F170, 0x1F189},
}};
constexpr Range kNotCasedInPython{0x1DF25, 0x1DF2A};

enum class IntlClass : uint8_t { kOther, kNumber, kPunctuation, kSymbol };

IntlClass intl_class(char32_t c) {
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return IntlClass::kNumber;
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      return IntlClass::kPunctuation;
    case UTF8PROC_CATEGORY_SM:
    case UTF8PROC_CATEGORY_SC:
    case UTF8PROC_CATEGORY_SK:
    case UTF8PROC_CATEGORY_SO:
      return IntlClass::kSymbol;
    case UTF8PROC_CATEGORY_CN:
      if (in_ranges(kNewerPunctuation, c)) return IntlClass::kPunctuation;
      if (in_ranges(kNewerSymbols, c)) return IntlClass::kSymbol;
      if (in_ranges(kNewerNumbers, c)) return IntlClass::kNumber;
      return IntlClass::kOther;
    default:
      return IntlClass::kOther;
  }
}

// Python's _PyUnicode_IsCaseIgnorable (Mn, Me, Cf, Lm, Sk, Word_Break MidLetter /
// MidNumLet / Single_Quote), as Python 3.11 has it.
bool is_case_ignorable(char32_t c) {
  switch (c) {
    case 0x27: case 0x2E: case 0x3A: case 0xB7: case 0x387: case 0x55F: case 0x5F4: case 0x2018:
    case 0x2019: case 0x2024: case 0x2027: case 0xFE13: case 0xFE52: case 0xFE55: case 0xFF07:
    case 0xFF0E: case 0xFF1A:
      return true;
    default:
      break;
  }
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_SK:
      return !in_ranges(kNotCaseIgnorableInPython, c);
    default:
      return false;
  }
}

// Python's _PyUnicode_IsCased (Lowercase or Uppercase or Lt), evaluated only on characters
// that are not case-ignorable.
bool is_cased(char32_t c) {
  if (c >= kNotCasedInPython.lo && c <= kNotCasedInPython.hi) return false;
  auto cp = static_cast<utf8proc_int32_t>(c);
  switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
      return true;
    default:
      break;
  }
  return utf8proc_tolower(cp) != cp || utf8proc_toupper(cp) != cp || in_ranges(kCasedWithoutMapping, c);
}

// CPython's handle_capital_sigma: U+03A3 lowercases to final sigma after a cased letter
// (skipping case-ignorables) unless a cased letter follows (skipping case-ignorables).
char32_t lower_capital_sigma(const std::u32string& s, std::size_t i) {
  std::size_t j = i;
  while (j > 0 && is_case_ignorable(s[j - 1])) --j;
  bool final_sigma = j > 0 && is_cased(s[j - 1]);
  if (final_sigma && i + 1 < s.size()) {
    std::size_t k = i + 1;
    while (k < s.size() && is_case_ignorable(s[k])) ++k;
    final_sigma = k == s.size() || !is_cased(s[k]);
  }
  return final_sigma ? 0x3C2 : 0x3C3;
}

int utf8_sequence_length(unsigned char lead) {
  return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }

// The code point of the n-byte UTF-8 sequence at s[i].
char32_t decode_at(std::string_view s, std::size_t i, std::size_t n) {
  auto b0 = static_cast<unsigned char>(s[i]);
  char32_t c = n == 1 ? b0 : n == 2 ? (b0 & 0x1Fu) : n == 3 ? (b0 & 0x0Fu) : (b0 & 0x07u);
  for (std::size_t k = 1; k < n; ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
  return c;
}

// Byte length of the Python whitespace character at s[i] (0 when not one); ASCII inline.
inline std::size_t space_len(std::string_view s, std::size_t i) {
  auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return b0 == 0x20 || (b0 >= 0x09 && b0 <= 0x0D) || (b0 >= 0x1C && b0 <= 0x1F) ? 1 : 0;
  if (b0 != 0xC2 && b0 != 0xE1 && b0 != 0xE2 && b0 != 0xE3) return 0;
  auto n = static_cast<std::size_t>(utf8_sequence_length(b0));
  if (i + n > s.size()) return 0;  // truncated (invalid) input: never read past the end
  return is_python_space(decode_at(s, i, n)) ? n : 0;
}

inline std::size_t char_len(std::string_view s, std::size_t i) {
  return static_cast<std::size_t>(utf8_sequence_length(static_cast<unsigned char>(s[i])));
}

}  // namespace

void python_replace(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty()) return;  // not needed by the metrics; Python would insert `to` everywhere
  std::size_t pos = s.find(from);
  if (pos == std::string::npos) return;
  std::string out;
  out.reserve(s.size());
  std::size_t last = 0;
  while (pos != std::string::npos) {
    out.append(s, last, pos - last);
    out.append(to);
    last = pos + from.size();
    pos = s.find(from, last);
  }
  out.append(s, last, std::string::npos);
  s = std::move(out);
}

namespace {

// zh's _UCODE_RANGES as sacrebleu compares them. The entries written '\u20000'-'\u2a6d6' and
// '\u2f800'-'\u2fa1d' are two-character strings in Python ('\u2000' + '0', ...), so a single
// character falls inside them when it is in U+2001..U+2A6D and U+2F81..U+2FA1: kept as is.
constexpr std::array<Range, 22> kZhRanges{{
    {0x3400, 0x4DB5}, {0x4E00, 0x9FA5}, {0x9FA6, 0x9FBB}, {0xF900, 0xFA2D}, {0xFA30, 0xFA6A},
    {0xFA70, 0xFAD9}, {0x2001, 0x2A6D}, {0x2F81, 0x2FA1}, {0xFF00, 0xFFEF}, {0x2E80, 0x2EFF},
    {0x3000, 0x303F}, {0x31C0, 0x31EF}, {0x2F00, 0x2FDF}, {0x2FF0, 0x2FFF}, {0x3100, 0x312F},
    {0x31A0, 0x31BF}, {0xFE10, 0xFE1F}, {0xFE30, 0xFE4F}, {0x2600, 0x26FF}, {0x2700, 0x27BF},
    {0x3200, 0x32FF}, {0x3300, 0x33FF},
}};

bool is_zh_char(char32_t c) { return c >= 0x2001 && in_ranges(kZhRanges, c); }

// TokenizerRegexp (shared by 13a and zh) after its input is prepared.
std::string mteval_regexp(std::string_view s) {
  return python_normalize_spaces(separate_period_comma_dash(separate_mteval_symbols(s)));
}

}  // namespace

void append_utf8(std::string& out, char32_t c) { core::append_utf8(out, c); }

std::u32string decode_utf8_string(std::string_view s) { return core::utf8_to_u32(s); }

void validate_utf8(std::string_view s, std::string_view what) {
  std::size_t bad = core::find_invalid_utf8(s);
  if (bad != std::string_view::npos) {
    throw InvalidArgument(
        fmt::format("{}: invalid UTF-8 at byte {} (0x{:02x})", what, bad, static_cast<unsigned char>(s[bad])));
  }
}

void validate_corpus(const std::vector<std::string>& hyps, const std::vector<std::vector<std::string>>& refs,
                     std::string_view metric) {
  if (hyps.empty()) throw InvalidArgument(fmt::format("{}: no hypotheses (an empty corpus has no score)", metric));
  if (refs.empty()) throw InvalidArgument(fmt::format("{}: no reference stream given", metric));
  for (std::size_t k = 0; k < refs.size(); ++k) {
    if (refs[k].size() != hyps.size()) {
      throw InvalidArgument(fmt::format("{}: reference stream {} has {} segments but there are {} hypotheses", metric,
                                        k + 1, refs[k].size(), hyps.size()));
    }
  }
  for (std::size_t i = 0; i < hyps.size(); ++i) {
    if (core::find_invalid_utf8(hyps[i]) != std::string_view::npos) {
      validate_utf8(hyps[i], fmt::format("{}: hypothesis {}", metric, i + 1));
    }
  }
  for (std::size_t k = 0; k < refs.size(); ++k) {
    for (std::size_t i = 0; i < refs[k].size(); ++i) {
      if (core::find_invalid_utf8(refs[k][i]) != std::string_view::npos) {
        validate_utf8(refs[k][i], fmt::format("{}: reference stream {}, segment {}", metric, k + 1, i + 1));
      }
    }
  }
}

void validate_sentence(const std::string& hyp, const std::vector<std::string>& refs, std::string_view metric) {
  if (refs.empty()) throw InvalidArgument(fmt::format("{}: no reference given for the sentence", metric));
  validate_utf8(hyp, fmt::format("{}: hypothesis", metric));
  for (std::size_t k = 0; k < refs.size(); ++k) validate_utf8(refs[k], fmt::format("{}: reference {}", metric, k + 1));
}

bool is_python_space(char32_t c) {
  switch (c) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x1C: case 0x1D: case 0x1E:
    case 0x1F: case 0x20: case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029:
    case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

std::size_t python_space_length(std::string_view s, std::size_t i) { return space_len(s, i); }

std::vector<std::string_view> python_split(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t sp = space_len(s, i);
    if (sp > 0) {
      i += sp;
      continue;
    }
    const std::size_t start = i;
    while (i < s.size() && space_len(s, i) == 0) i += char_len(s, i);
    out.push_back(s.substr(start, i - start));
  }
  return out;
}

std::string_view python_rstrip(std::string_view s) {
  std::size_t end = s.size();
  while (end > 0) {
    std::size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    if (space_len(s, start) != end - start) break;
    end = start;
  }
  return s.substr(0, end);
}

std::string_view python_strip(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t sp = space_len(s, i);
    if (sp == 0) break;
    i += sp;
  }
  return python_rstrip(s.substr(i));
}

std::string python_normalize_spaces(std::string_view s) {
  // " ".join(s.split())
  std::string out;
  out.reserve(s.size());
  for (std::string_view w : python_split(s)) {
    if (!out.empty()) out.push_back(' ');
    out.append(w);
  }
  return out;
}

std::string python_lower(std::string_view s) {
  bool ascii = std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  std::string out;
  out.reserve(s.size() + 4);
  if (ascii) {
    for (char c : s) out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c);
    return out;
  }
  std::u32string cps = decode_utf8_string(s);
  for (std::size_t i = 0; i < cps.size(); ++i) {
    char32_t c = cps[i];
    if (c < 0x80) {
      out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : static_cast<char>(c));
    } else if (c == 0x130) {  // the only unconditional multi-char lowercase mapping
      out.push_back('i');
      append_utf8(out, 0x307);
    } else if (c == 0x3A3) {
      append_utf8(out, lower_capital_sigma(cps, i));
    } else {
      append_utf8(out, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
    }
  }
  return out;
}

std::string separate_mteval_symbols(std::string_view s) {
  // [\{-\~\[-\` -\&\(-\+\:-\@\/]: ASCII punctuation except ' , - . and the space itself.
  static const std::array<bool, 256> kSymbol = [] {
    std::array<bool, 256> t{};
    for (int c = 0; c < 256; ++c) {
      t[static_cast<std::size_t>(c)] = (c >= 0x7B && c <= 0x7E) || (c >= 0x5B && c <= 0x60) ||
                                       (c >= 0x20 && c <= 0x26) || (c >= 0x28 && c <= 0x2B) ||
                                       (c >= 0x3A && c <= 0x40) || c == 0x2F;
    }
    return t;
  }();
  std::string out(3 * s.size(), '\0');
  char* w = out.data();
  for (char c : s) {
    if (kSymbol[static_cast<unsigned char>(c)]) {
      *w++ = ' ';
      *w++ = c;
      *w++ = ' ';
    } else {
      *w++ = c;
    }
  }
  out.resize(static_cast<std::size_t>(w - out.data()));
  return out;
}

// Works on bytes: [^0-9] matches any code point but an ASCII digit, and the other side of
// each pattern is ASCII, so matches fall on the same characters as in Python's str scan.
// Each pass at most doubles the length.
std::string separate_period_comma_dash(std::string_view s) {
  auto is_pc = [](char c) { return c == '.' || c == ','; };
  std::string a(2 * s.size(), '\0');
  char* w = a.data();
  for (std::size_t i = 0; i < s.size();) {  // ([^0-9])([\.,]) -> "\1 \2 "
    if (i + 1 < s.size() && !is_ascii_digit(s[i]) && is_pc(s[i + 1])) {
      *w++ = s[i];
      *w++ = ' ';
      *w++ = s[i + 1];
      *w++ = ' ';
      i += 2;
    } else {
      *w++ = s[i++];
    }
  }
  a.resize(static_cast<std::size_t>(w - a.data()));
  std::string b(2 * a.size(), '\0');
  w = b.data();
  for (std::size_t i = 0; i < a.size();) {  // ([\.,])([^0-9]) -> " \1 \2"
    if (i + 1 < a.size() && is_pc(a[i]) && !is_ascii_digit(a[i + 1])) {
      *w++ = ' ';
      *w++ = a[i];
      *w++ = ' ';
      *w++ = a[i + 1];
      i += 2;
    } else {
      *w++ = a[i++];
    }
  }
  b.resize(static_cast<std::size_t>(w - b.data()));
  std::string c(2 * b.size(), '\0');
  w = c.data();
  for (std::size_t i = 0; i < b.size();) {  // ([0-9])(-) -> "\1 \2 "
    if (i + 1 < b.size() && is_ascii_digit(b[i]) && b[i + 1] == '-') {
      *w++ = b[i];
      *w++ = ' ';
      *w++ = '-';
      *w++ = ' ';
      i += 2;
    } else {
      *w++ = b[i++];
    }
  }
  c.resize(static_cast<std::size_t>(w - c.data()));
  return c;
}

std::optional<BleuTokenizer> parse_bleu_tokenizer(std::string_view name) {
  if (name == "13a") return BleuTokenizer::k13a;
  if (name == "intl") return BleuTokenizer::kIntl;
  if (name == "zh") return BleuTokenizer::kZh;
  if (name == "char") return BleuTokenizer::kChar;
  if (name == "none") return BleuTokenizer::kNone;
  return std::nullopt;
}

std::string_view bleu_tokenizer_name(BleuTokenizer tokenizer) {
  switch (tokenizer) {
    case BleuTokenizer::k13a: return "13a";
    case BleuTokenizer::kIntl: return "intl";
    case BleuTokenizer::kZh: return "zh";
    case BleuTokenizer::kChar: return "char";
    case BleuTokenizer::kNone: return "none";
  }
  return "13a";
}

std::string tokenize_13a(std::string_view line) {
  std::string s(line);
  python_replace(s, "<skipped>", "");
  python_replace(s, "-\n", "");
  python_replace(s, "\n", " ");
  if (s.find('&') != std::string::npos) {
    python_replace(s, "&quot;", "\"");
    python_replace(s, "&amp;", "&");
    python_replace(s, "&lt;", "<");
    python_replace(s, "&gt;", ">");
  }
  std::string padded;
  padded.reserve(s.size() + 2);
  padded.push_back(' ');
  padded.append(s);
  padded.push_back(' ');
  return mteval_regexp(padded);
}

std::string tokenize_intl(std::string_view line) {
  std::u32string s = decode_utf8_string(line);
  std::vector<IntlClass> cls(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) cls[i] = intl_class(s[i]);
  // Inserted spaces are Zs: class kOther. Each pass keeps the classes in step with its output.
  std::u32string out;
  std::vector<IntlClass> out_cls;
  auto emit = [&](char32_t c, IntlClass k) {
    out.push_back(c);
    out_cls.push_back(k);
  };
  auto next_pass = [&]() {
    s.swap(out);
    cls.swap(out_cls);
    out.clear();
    out_cls.clear();
  };
  // (\P{N})(\p{P}) -> "\1 \2 "
  for (std::size_t i = 0; i < s.size();) {
    if (i + 1 < s.size() && cls[i] != IntlClass::kNumber && cls[i + 1] == IntlClass::kPunctuation) {
      emit(s[i], cls[i]);
      emit(' ', IntlClass::kOther);
      emit(s[i + 1], cls[i + 1]);
      emit(' ', IntlClass::kOther);
      i += 2;
    } else {
      emit(s[i], cls[i]);
      ++i;
    }
  }
  next_pass();
  // (\p{P})(\P{N}) -> " \1 \2"
  for (std::size_t i = 0; i < s.size();) {
    if (i + 1 < s.size() && cls[i] == IntlClass::kPunctuation && cls[i + 1] != IntlClass::kNumber) {
      emit(' ', IntlClass::kOther);
      emit(s[i], cls[i]);
      emit(' ', IntlClass::kOther);
      emit(s[i + 1], cls[i + 1]);
      i += 2;
    } else {
      emit(s[i], cls[i]);
      ++i;
    }
  }
  next_pass();
  // (\p{S}) -> " \1 "
  std::string utf8;
  utf8.reserve(s.size() * 2);
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (cls[i] == IntlClass::kSymbol) {
      utf8.push_back(' ');
      append_utf8(utf8, s[i]);
      utf8.push_back(' ');
    } else {
      append_utf8(utf8, s[i]);
    }
  }
  return python_normalize_spaces(utf8);
}

std::string tokenize_zh(std::string_view line) {
  std::string_view stripped = python_strip(line);
  std::string spaced;
  spaced.reserve(stripped.size() + stripped.size() / 2);
  for (std::size_t i = 0; i < stripped.size();) {
    auto b0 = static_cast<unsigned char>(stripped[i]);
    auto n = static_cast<std::size_t>(utf8_sequence_length(b0));
    if (n >= 3 && i + n <= stripped.size()) {
      if (is_zh_char(decode_at(stripped, i, n))) {
        spaced.push_back(' ');
        spaced.append(stripped.substr(i, n));
        spaced.push_back(' ');
        i += n;
        continue;
      }
    }
    spaced.append(stripped.substr(i, n));
    i += n;
  }
  return mteval_regexp(spaced);
}

std::string tokenize_char(std::string_view line) {
  std::string out;
  out.reserve(line.size() * 2);
  for (std::size_t i = 0; i < line.size();) {
    auto n = static_cast<std::size_t>(utf8_sequence_length(static_cast<unsigned char>(line[i])));
    if (i > 0) out.push_back(' ');
    out.append(line.substr(i, n));
    i += n;
  }
  return out;
}

std::string tokenize(std::string_view line, BleuTokenizer tokenizer) {
  switch (tokenizer) {
    case BleuTokenizer::k13a: return tokenize_13a(line);
    case BleuTokenizer::kIntl: return tokenize_intl(line);
    case BleuTokenizer::kZh: return tokenize_zh(line);
    case BleuTokenizer::kChar: return tokenize_char(line);
    case BleuTokenizer::kNone: return std::string(line);
  }
  return std::string(line);
}

std::string bleu_tokenize(std::string_view sentence, BleuTokenizer tokenizer, bool lowercase) {
  if (lowercase) {
    std::string lowered = python_lower(sentence);
    return tokenize(python_rstrip(lowered), tokenizer);
  }
  return tokenize(python_rstrip(sentence), tokenizer);
}

// ---------------------------------------------------------------- n-gram matching

void NgramMatcher::clear() {
  words_.clear();
  units_.clear();
  begin_.assign(1, 0);
}

void NgramMatcher::add_words(const std::vector<std::string_view>& words) {
  words_.insert(words_.end(), words.begin(), words.end());
  begin_.push_back(static_cast<uint32_t>(words_.size()));
}

void NgramMatcher::add_chars(const std::u32string& chars) {
  units_.insert(units_.end(), chars.begin(), chars.end());
  begin_.push_back(static_cast<uint32_t>(units_.size()));
}

void NgramMatcher::reset_table(std::size_t entries) {
  std::size_t cap = 16;
  while (cap < 2 * entries) cap <<= 1;
  if (slot_stamps_.size() < cap) {
    slot_keys_.assign(cap, 0);
    slot_words_.assign(cap, {});
    slot_ids_.assign(cap, 0);
    slot_stamps_.assign(cap, 0);
    stamp_ = 0;
  }
  if (++stamp_ == 0) {  // wrapped: really clear
    std::fill(slot_stamps_.begin(), slot_stamps_.end(), 0);
    stamp_ = 1;
  }
  next_id_ = 0;
}

uint32_t NgramMatcher::intern_key(uint64_t key) {
  const std::size_t mask = slot_stamps_.size() - 1;
  const uint64_t h = key * 0x9E3779B97F4A7C15ull;
  std::size_t i = static_cast<std::size_t>(h ^ (h >> 29)) & mask;
  while (slot_stamps_[i] == stamp_) {
    if (slot_keys_[i] == key) return slot_ids_[i];
    i = (i + 1) & mask;
  }
  slot_stamps_[i] = stamp_;
  slot_keys_[i] = key;
  slot_ids_[i] = next_id_;
  return next_id_++;
}

uint32_t NgramMatcher::intern_word(std::string_view word) {
  const std::size_t mask = slot_stamps_.size() - 1;
  std::size_t i = std::hash<std::string_view>{}(word) & mask;
  while (slot_stamps_[i] == stamp_) {
    if (slot_words_[i] == word) return slot_ids_[i];
    i = (i + 1) & mask;
  }
  slot_stamps_[i] = stamp_;
  slot_words_[i] = word;
  slot_ids_[i] = next_id_;
  return next_id_++;
}

void NgramMatcher::count(int max_order, NgramMatches& out) {
  const std::size_t num_sources = begin_.size() - 1;
  const auto num_refs = static_cast<std::size_t>(std::max<std::ptrdiff_t>(static_cast<std::ptrdiff_t>(num_sources) - 1, 0));
  const auto orders = static_cast<std::size_t>(std::max(max_order, 0));
  out.max_order = max_order;
  out.num_refs = static_cast<int>(num_refs);
  out.hyp_total.assign(orders, 0);
  out.match_max_ref.assign(orders, 0);
  out.ref_total.assign(orders * num_refs, 0);
  out.match.assign(orders * num_refs, 0);

  if (!words_.empty()) {  // words -> dense ids, equal strings sharing one id
    reset_table(words_.size());
    units_.resize(words_.size());
    for (std::size_t i = 0; i < words_.size(); ++i) units_[i] = intern_word(words_[i]);
  }
  ids_.resize(units_.size());
  next_ids_.resize(units_.size());

  // Order n: the n-gram starting at p is (id of the (n-1)-gram at p, unit at p + n - 1), so
  // each order needs one 64-bit key per position, whatever n is.
  for (std::size_t n = 1; n <= orders; ++n) {
    reset_table(units_.size());
    bool any = false;
    for (std::size_t s = 0; s < num_sources; ++s) {
      const std::size_t b = begin_[s], e = begin_[s + 1];
      const std::size_t count = e - b >= n ? e - b - n + 1 : 0;
      if (s == 0) {
        out.hyp_total[n - 1] = static_cast<int64_t>(count);
      } else {
        out.ref_total[(n - 1) * num_refs + s - 1] = static_cast<int64_t>(count);
      }
      any = any || count > 0;
    }
    if (!any) break;
    run_counts_.assign(units_.size() * num_sources, 0);  // ids < number of positions
    for (std::size_t s = 0; s < num_sources; ++s) {
      const std::size_t b = begin_[s], e = begin_[s + 1];
      for (std::size_t p = b; p + n <= e; ++p) {
        const uint64_t key = n == 1 ? units_[p] : (static_cast<uint64_t>(ids_[p]) << 32) | units_[p + n - 1];
        const uint32_t id = intern_key(key);
        next_ids_[p] = id;
        ++run_counts_[static_cast<std::size_t>(id) * num_sources + s];
      }
    }
    for (std::size_t id = 0; id < next_id_; ++id) {
      const int64_t* c = &run_counts_[id * num_sources];
      const int64_t hyp = c[0];
      if (hyp == 0) continue;
      int64_t best_ref = 0;
      for (std::size_t k = 0; k < num_refs; ++k) {
        out.match[(n - 1) * num_refs + k] += std::min(hyp, c[k + 1]);
        best_ref = std::max(best_ref, c[k + 1]);
      }
      out.match_max_ref[n - 1] += std::min(hyp, best_ref);
    }
    ids_.swap(next_ids_);
  }
}

}  // namespace xling::metrics
