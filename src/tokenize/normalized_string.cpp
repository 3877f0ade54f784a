// Alignment-tracking normalized strings (see normalized_string.hpp). The transform rules
// mirror HF tokenizers' so that offsets agree to the byte.
#include "tokenize/normalized_string.hpp"

#include <algorithm>

namespace xling::tokenize {

NormalizedString::NormalizedString(std::string_view original, uint32_t shift)
    : normalized_(original), original_begin_(shift), original_end_(shift + static_cast<uint32_t>(original.size())) {
  align_.resize(original.size());
  for (std::size_t i = 0; i < original.size();) {
    char32_t c;
    int n = decode_utf8(original, i, c);
    Offsets o{shift + static_cast<uint32_t>(i), shift + static_cast<uint32_t>(i + n)};
    for (int k = 0; k < n; ++k) align_[i + k] = o;
    i += static_cast<std::size_t>(n);
  }
}

void NormalizedString::transform(const std::vector<CharChange>& changes, std::size_t initial_offset) {
  transform_range(0, normalized_.size(), changes, initial_offset);
}

void NormalizedString::transform_range(std::size_t begin, std::size_t end, const std::vector<CharChange>& changes,
                                       std::size_t initial_offset) {
  // Characters being replaced, consumed as the changes say.
  std::size_t cursor = begin;  // byte position in the old normalized string
  auto next_old_char_len = [&]() -> std::size_t {
    if (cursor >= end) return 0;
    char32_t c;
    return static_cast<std::size_t>(decode_utf8(normalized_, cursor, c));
  };
  for (std::size_t k = 0; k < initial_offset; ++k) cursor += next_old_char_len();

  std::string out;
  std::vector<Offsets> out_align;
  out.reserve(end - begin);
  out_align.reserve(end - begin);
  for (const auto& [c, change] : changes) {
    Offsets a;
    if (change > 0) {
      // Inserted: shares the alignment of the byte before it.
      a = cursor == 0 ? Offsets{original_begin_, original_begin_} : align_[cursor - 1];
    } else {
      a = cursor < align_.size() ? align_[cursor] : (align_.empty() ? Offsets{original_begin_, original_begin_} : align_.back());
      cursor += next_old_char_len();  // the replaced char
    }
    for (int r = 0; r < -change; ++r) cursor += next_old_char_len();  // removed chars
    std::size_t before = out.size();
    append_utf8(out, c);
    out_align.insert(out_align.end(), out.size() - before, a);
  }
  normalized_.replace(begin, end - begin, out);
  align_.erase(align_.begin() + static_cast<std::ptrdiff_t>(begin), align_.begin() + static_cast<std::ptrdiff_t>(end));
  align_.insert(align_.begin() + static_cast<std::ptrdiff_t>(begin), out_align.begin(), out_align.end());
}

void NormalizedString::map(const std::function<char32_t(char32_t)>& f) {
  std::vector<CharChange> changes;
  changes.reserve(normalized_.size());
  for (std::size_t i = 0; i < normalized_.size();) {
    char32_t c;
    i += static_cast<std::size_t>(decode_utf8(normalized_, i, c));
    changes.emplace_back(f(c), 0);
  }
  transform(changes);
}

void NormalizedString::filter(const std::function<bool(char32_t)>& keep) {
  std::vector<CharChange> changes;
  int removed = 0;
  std::size_t removed_start = 0;
  bool have_last = false;
  char32_t last = 0;
  for (std::size_t i = 0; i < normalized_.size();) {
    char32_t c;
    i += static_cast<std::size_t>(decode_utf8(normalized_, i, c));
    if (keep(c)) {
      if (have_last) changes.emplace_back(last, -removed);
      else removed_start = static_cast<std::size_t>(removed);
      last = c;
      have_last = true;
      removed = 0;
    } else {
      ++removed;
    }
  }
  if (have_last) changes.emplace_back(last, -removed);
  else removed_start = static_cast<std::size_t>(removed);
  transform(changes, removed_start);
}

void NormalizedString::prepend(std::string_view s) {
  if (normalized_.empty() || s.empty()) return;
  char32_t first;
  int n = decode_utf8(normalized_, 0, first);
  std::vector<CharChange> changes;
  bool head = true;
  for (char32_t c : to_codepoints(s)) {
    changes.emplace_back(c, head ? 0 : 1);
    head = false;
  }
  changes.emplace_back(first, 1);
  transform_range(0, static_cast<std::size_t>(n), changes);
}

void NormalizedString::append(std::string_view s) {
  if (normalized_.empty() || s.empty()) return;
  // The last char, then the new ones inserted after it.
  std::size_t last = normalized_.size() - 1;
  while (last > 0 && (static_cast<unsigned char>(normalized_[last]) & 0xC0) == 0x80) --last;
  char32_t c;
  decode_utf8(normalized_, last, c);
  std::vector<CharChange> changes = {{c, 0}};
  for (char32_t x : to_codepoints(s)) changes.emplace_back(x, 1);
  transform_range(last, normalized_.size(), changes);
}

void NormalizedString::lowercase() {
  std::vector<CharChange> changes;
  std::vector<char32_t> lower;
  bool ascii = true;
  for (unsigned char ch : normalized_) ascii &= ch < 0x80;
  if (ascii) {
    for (auto& ch : normalized_) ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    return;
  }
  for (std::size_t i = 0; i < normalized_.size();) {
    char32_t c;
    i += static_cast<std::size_t>(decode_utf8(normalized_, i, c));
    lower.clear();
    to_lowercase(c, lower);
    for (std::size_t k = 0; k < lower.size(); ++k) changes.emplace_back(lower[k], k > 0 ? 1 : 0);
  }
  transform(changes);
}

void NormalizedString::normalize(NormalForm form) {
  bool ascii = true;
  for (unsigned char ch : normalized_) ascii &= ch < 0x80;
  if (ascii) return;
  std::vector<CharChange> changes;
  normalize_changes(normalized_, form, changes);
  transform(changes);
}

void NormalizedString::replace(const MatchList& matches, std::string_view content) {
  // As HF: the matched chars are removed (initial offset) and every content char is inserted
  // after them, so the replacement takes the alignment of the match's last char ("a  b" with
  // " {2,}" -> "▁": the "▁" covers the second space). Right to left so that earlier byte
  // ranges stay valid.
  std::vector<char32_t> cps = to_codepoints(content);
  std::vector<CharChange> changes;
  for (char32_t c : cps) changes.emplace_back(c, 1);
  for (auto it = matches.rbegin(); it != matches.rend(); ++it) {
    if (!it->second) continue;
    auto [b, e] = it->first;
    std::size_t removed = to_codepoints(std::string_view(normalized_).substr(b, e - b)).size();
    transform_range(b, e, changes, removed);
  }
}

void NormalizedString::strip(bool left, bool right) {
  std::vector<char32_t> cps = to_codepoints(normalized_);
  std::size_t lead = 0, trail = 0;
  if (left) while (lead < cps.size() && is_whitespace(cps[lead])) ++lead;
  if (right) while (trail < cps.size() - lead && is_whitespace(cps[cps.size() - 1 - trail])) ++trail;
  if (lead == 0 && trail == 0) return;
  std::vector<CharChange> changes;
  for (std::size_t k = lead; k < cps.size() - trail; ++k) changes.emplace_back(cps[k], 0);
  if (trail > 0 && !changes.empty()) changes.back().second = -static_cast<int>(trail);
  transform(changes, lead);
}

NormalizedString NormalizedString::slice(std::size_t begin, std::size_t end) const {
  NormalizedString out;
  out.normalized_ = normalized_.substr(begin, end - begin);
  out.align_.assign(align_.begin() + static_cast<std::ptrdiff_t>(begin), align_.begin() + static_cast<std::ptrdiff_t>(end));
  if (!out.align_.empty()) {
    out.original_begin_ = out.align_.front().first;
    out.original_end_ = out.align_.back().second;
    for (const auto& a : out.align_) {
      out.original_begin_ = std::min(out.original_begin_, a.first);
      out.original_end_ = std::max(out.original_end_, a.second);
    }
  } else {
    Offsets o = original_offsets(begin, end);
    out.original_begin_ = o.first;
    out.original_end_ = o.first;
  }
  return out;
}

std::vector<NormalizedString> NormalizedString::split(const MatchList& matches, SplitBehavior behavior) const {
  std::vector<NormalizedString> out;
  for (const auto& [range, remove] : apply_behavior(matches, behavior)) {
    if (remove || range.first == range.second) continue;
    out.push_back(slice(range.first, range.second));
  }
  return out;
}

Offsets NormalizedString::original_offsets(std::size_t begin, std::size_t end) const {
  if (begin == end) {
    // HF returns the empty range itself; anchor it in the original.
    if (begin < align_.size()) return {align_[begin].first, align_[begin].first};
    if (!align_.empty()) return {align_.back().second, align_.back().second};
    return {original_begin_, original_begin_};
  }
  return {align_[begin].first, align_[end - 1].second};
}

MatchList match_chars(std::string_view s, const std::function<bool(char32_t)>& pred) {
  MatchList out;
  uint32_t last = 0;
  for (std::size_t i = 0; i < s.size();) {
    char32_t c;
    int n = decode_utf8(s, i, c);
    if (pred(c)) {
      if (last < i) out.push_back({{last, static_cast<uint32_t>(i)}, false});
      out.push_back({{static_cast<uint32_t>(i), static_cast<uint32_t>(i + n)}, true});
      last = static_cast<uint32_t>(i + n);
    }
    i += static_cast<std::size_t>(n);
  }
  if (last < s.size()) out.push_back({{last, static_cast<uint32_t>(s.size())}, false});
  return out;
}

MatchList apply_behavior(MatchList matches, SplitBehavior behavior) {
  // Returns (range, should_remove).
  MatchList out;
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (auto& m : matches) out.push_back({m.first, false});
      return out;
    case SplitBehavior::kRemoved:
      return matches;  // is_match == remove
    case SplitBehavior::kMergedWithPrevious: {
      bool prev_match = false;
      for (auto& [r, is_match] : matches) {
        if (is_match && !prev_match && !out.empty()) out.back().first.second = r.second;
        else out.push_back({r, false});
        prev_match = is_match;
      }
      return out;
    }
    case SplitBehavior::kMergedWithNext: {
      bool prev_match = false;
      for (auto it = matches.rbegin(); it != matches.rend(); ++it) {
        auto& [r, is_match] = *it;
        if (is_match && !prev_match && !out.empty()) out.back().first.first = r.first;
        else out.push_back({r, false});
        prev_match = is_match;
      }
      std::reverse(out.begin(), out.end());
      return out;
    }
    case SplitBehavior::kContiguous: {
      bool prev_match = false;
      bool first = true;
      for (auto& [r, is_match] : matches) {
        if (!first && is_match == prev_match) out.back().first.second = r.second;
        else out.push_back({r, false});
        prev_match = is_match;
        first = false;
      }
      return out;
    }
  }
  return out;
}

}  // namespace xling::tokenize
