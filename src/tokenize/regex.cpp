// Oniguruma wrapper (see regex.hpp).
#include "tokenize/regex.hpp"

#include <mutex>

#include <fmt/format.h>
#include <oniguruma.h>

#include "xling/errors.hpp"

namespace xling::tokenize {
namespace {

void init_oniguruma() {
  static std::once_flag once;
  std::call_once(once, [] {
    OnigEncoding encs[] = {ONIG_ENCODING_UTF8};
    onig_initialize(encs, 1);
  });
}

}  // namespace

Regex::Regex(const std::string& pattern, const std::string& source) {
  init_oniguruma();
  OnigRegex re = nullptr;
  OnigErrorInfo info;
  const auto* p = reinterpret_cast<const OnigUChar*>(pattern.data());
  int r = onig_new(&re, p, p + pattern.size(), ONIG_OPTION_NONE, ONIG_ENCODING_UTF8, ONIG_SYNTAX_RUBY, &info);
  if (r != ONIG_NORMAL) {
    OnigUChar msg[ONIG_MAX_ERROR_MESSAGE_LEN];
    onig_error_code_to_str(msg, r, &info);
    throw InvalidArgument(fmt::format("{}: regex {:?} does not compile: {}", source, pattern,
                                      reinterpret_cast<const char*>(msg)));
  }
  regex_ = re;
}

Regex::~Regex() {
  if (regex_) onig_free(static_cast<OnigRegex>(regex_));
}

MatchList Regex::find_matches(std::string_view s) const {
  MatchList out;
  auto re = static_cast<OnigRegex>(regex_);
  OnigRegion* region = onig_region_new();
  const auto* start = reinterpret_cast<const OnigUChar*>(s.data());
  const auto* end = start + s.size();
  std::size_t prev = 0, pos = 0;
  while (pos <= s.size()) {
    int r = onig_search(re, start, end, start + pos, end, region, ONIG_OPTION_NONE);
    if (r < 0) break;
    auto mb = static_cast<std::size_t>(region->beg[0]);
    auto me = static_cast<std::size_t>(region->end[0]);
    if (me == mb) {  // empty match: step one char forward
      if (mb >= s.size()) break;
      char32_t c;
      pos = mb + static_cast<std::size_t>(decode_utf8(s, mb, c));
      continue;
    }
    if (prev < mb) out.push_back({{static_cast<uint32_t>(prev), static_cast<uint32_t>(mb)}, false});
    out.push_back({{static_cast<uint32_t>(mb), static_cast<uint32_t>(me)}, true});
    prev = pos = me;
  }
  if (prev < s.size()) out.push_back({{static_cast<uint32_t>(prev), static_cast<uint32_t>(s.size())}, false});
  onig_region_free(region, 1);
  return out;
}

std::string regex_escape(std::string_view literal) {
  std::string out;
  for (char c : literal) {
    if (std::string_view("\\^$.|?*+()[]{}-/").find(c) != std::string_view::npos) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace xling::tokenize
