// A piece of text under normalization that remembers, for every byte of its normalized
// form, which bytes of the original input it came from -- HF tokenizers' NormalizedString.
// Token offsets are mapped back to the original text through these alignments.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenize/unicode.hpp"

namespace xling::tokenize {

using Offsets = std::pair<uint32_t, uint32_t>;  // [begin, end) byte offsets

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// (range in the normalized string, is_match)
using MatchList = std::vector<std::pair<Offsets, bool>>;

class NormalizedString {
 public:
  NormalizedString() = default;
  // `original` starts at byte `shift` of the whole input.
  NormalizedString(std::string_view original, uint32_t shift);

  const std::string& get() const { return normalized_; }
  bool empty() const { return normalized_.empty(); }
  uint32_t original_begin() const { return original_begin_; }  // absolute, in the input

  // HF's transform over the whole string: (char, change) with 0 = replaces a char, +1 =
  // inserted, -n = replaces one char and removes n more; `initial_offset` chars are removed
  // first.
  void transform(const std::vector<CharChange>& changes, std::size_t initial_offset = 0);
  // Same, over normalized bytes [begin, end) only.
  void transform_range(std::size_t begin, std::size_t end, const std::vector<CharChange>& changes,
                       std::size_t initial_offset = 0);

  void map(const std::function<char32_t(char32_t)>& f);
  void filter(const std::function<bool(char32_t)>& keep);
  void prepend(std::string_view s);
  void append(std::string_view s);
  void lowercase();
  void normalize(NormalForm form);
  void replace(const MatchList& matches, std::string_view content);  // replaces every is_match range
  void strip(bool left, bool right);

  // A sub-string over normalized bytes [begin, end), alignments kept.
  NormalizedString slice(std::size_t begin, std::size_t end) const;
  // Splits by matches with HF's delimiter behaviours; empty pieces are dropped.
  std::vector<NormalizedString> split(const MatchList& matches, SplitBehavior behavior) const;

  // Absolute original byte offsets of normalized bytes [begin, end).
  Offsets original_offsets(std::size_t begin, std::size_t end) const;

 private:
  std::string normalized_;
  std::vector<Offsets> align_;  // one per normalized byte, absolute original offsets
  uint32_t original_begin_ = 0;
  uint32_t original_end_ = 0;
};

// Matches of a char predicate: every matching char is its own match; gaps are non-matches.
MatchList match_chars(std::string_view s, const std::function<bool(char32_t)>& pred);
// Applies a split behaviour to a full cover of matches / non-matches.
MatchList apply_behavior(MatchList matches, SplitBehavior behavior);

}  // namespace xling::tokenize
