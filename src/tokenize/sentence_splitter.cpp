// Rule-based sentence splitting (see sentence_splitter.hpp).
#include "tokenize/sentence_splitter.hpp"

#include <fmt/format.h>
#include <utf8proc.h>

#include "core/utf8.hpp"
#include "xling/errors.hpp"

namespace xling::tokenize {
namespace {

// Terminals that end a sentence only before whitespace (Latin, Cyrillic, Greek, ... usage).
bool is_spaced_terminal(char32_t c) {
  return c == U'.' || c == U'!' || c == U'?' || c == U'\u2026' || c == U'\u037E' /* Greek ; */ ||
         c == U'\u0589' /* Armenian */ || c == U'\u061F' /* Arabic ? */ || c == U'\u06D4' /* Urdu */ ||
         c == U'\u0964' || c == U'\u0965' /* Devanagari dandas */ || c == U'\u104B' /* Burmese */ ||
         c == U'\u1362' /* Ethiopic */ || c == U'\u203C' || c == U'\u2047' || c == U'\u2048' || c == U'\u2049';
}

// Full-width terminals of scripts written without spaces: a sentence ends right after them.
bool is_closed_terminal(char32_t c) {
  return c == U'\u3002' || c == U'\uFF01' || c == U'\uFF1F' || c == U'\uFF0E' || c == U'\uFF61';
}

bool is_closing(char32_t c) {
  auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat == UTF8PROC_CATEGORY_PE || cat == UTF8PROC_CATEGORY_PF || c == U'"' || c == U'\'' || c == U'\u00BB' ||
         c == U'\u201D' || c == U'\u2019' || c == U'\u300D' || c == U'\u300F';
}

bool is_space(char32_t c) {
  auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return c == U'\t' || c == U'\n' || c == U'\r' || c == U'\f' || c == U'\v' || cat == UTF8PROC_CATEGORY_ZS;
}

bool is_lower(char32_t c) { return utf8proc_category(static_cast<utf8proc_int32_t>(c)) == UTF8PROC_CATEGORY_LL; }
bool is_upper(char32_t c) { return utf8proc_category(static_cast<utf8proc_int32_t>(c)) == UTF8PROC_CATEGORY_LU; }
bool is_letter(char32_t c) {
  auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
}

bool ends_full_width(const std::string& s) {
  if (s.empty()) return false;
  std::size_t i = s.size() - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  char32_t c = 0;
  core::decode_utf8(s, i, c);
  return is_closed_terminal(c) || c == U'\u300D' || c == U'\u300F';
}

}  // namespace

std::vector<SentenceSpan> split_sentences(std::string_view text) {
  if (auto bad = core::find_invalid_utf8(text); bad != std::string_view::npos) {
    throw InvalidArgument(fmt::format("invalid UTF-8 at byte {}", bad));
  }
  std::u32string s = core::utf8_to_u32(text);
  std::vector<SentenceSpan> out;
  std::size_t start = 0, i = 0;
  const std::size_t n = s.size();
  while (start < n && is_space(s[start])) ++start;
  i = start;
  auto emit = [&](std::size_t end, std::size_t next) {
    SentenceSpan span;
    for (std::size_t k = start; k < end; ++k) core::append_utf8(span.text, s[k]);
    for (std::size_t k = end; k < next; ++k) core::append_utf8(span.separator, s[k]);
    if (!span.text.empty()) out.push_back(std::move(span));
    start = next;
  };
  while (i < n) {
    const char32_t c = s[i];
    const bool closed = is_closed_terminal(c);
    if (!closed && !is_spaced_terminal(c)) {
      ++i;
      continue;
    }
    std::size_t end = i + 1;
    while (end < n && (is_spaced_terminal(s[end]) || is_closed_terminal(s[end]))) ++end;  // "?!", "..."
    while (end < n && is_closing(s[end])) ++end;
    std::size_t next = end;
    while (next < n && is_space(s[next])) ++next;
    if (next >= n) break;  // the paragraph's end: the last sentence
    bool split = closed;
    if (!split && next > end) {
      // Latin-style: whitespace follows; not before a lowercase letter, not after an initial.
      split = !is_lower(s[next]);
      if (split && c == U'.' && i >= start + 1 && is_upper(s[i - 1]) && (i == start + 1 || !is_letter(s[i - 2]))) {
        split = false;
      }
    }
    if (split) {
      emit(end, next);
      i = next;
    } else {
      i = end;
    }
  }
  std::size_t last = n;
  while (last > start && is_space(s[last - 1])) --last;
  if (last > start) emit(last, last);
  return out;
}

std::string join_sentences(const std::vector<std::string>& translations, const std::vector<SentenceSpan>& spans) {
  std::string out;
  for (std::size_t i = 0; i < translations.size(); ++i) {
    out += translations[i];
    if (i + 1 == translations.size()) break;
    const std::string& sep = i < spans.size() ? spans[i].separator : std::string(" ");
    if (!sep.empty()) out += sep;
    else if (!ends_full_width(translations[i])) out += ' ';
  }
  return out;
}

}  // namespace xling::tokenize
