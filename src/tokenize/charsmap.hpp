// sentencepiece "precompiled_charsmap": the normalization rules that a .model file (and
// a tokenizer.json Precompiled normalizer) carries as a Darts-clone double-array trie over
// UTF-8 byte strings plus a pool of NUL-terminated replacement strings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace xling::tokenize {

class CharsMap {
 public:
  CharsMap() = default;  // matches nothing

  // Parses a blob laid out as <uint32 LE trie size in bytes><trie units (uint32 LE)><string pool>.
  // An empty blob is valid and matches nothing. Throws IoError naming `source` when the blob is
  // truncated or inconsistent. The trie itself is checked lazily: a lookup that reaches a leaf
  // pointing outside the blob throws IoError instead of reading out of bounds.
  static CharsMap parse(std::string_view blob, const std::string& source);

  bool empty() const { return units_.empty(); }

  // HF tokenizers (spm_precompiled `transform`): the replacement of the shortest prefix of
  // `chunk` found in the trie, meant to replace the whole chunk; nullopt when no prefix matches.
  // As in spm_precompiled, the search stops at a NUL byte.
  std::optional<std::string_view> hf_transform(std::string_view chunk) const;

  // sentencepiece (normalizer.cc NormalizePrefix): the length in bytes of the longest prefix of
  // `text` found in the trie, and its replacement in *replacement (left untouched when 0 is
  // returned); 0 when no prefix matches.
  std::size_t longest_match(std::string_view text, std::string_view* replacement) const;

 private:
  // Walks the trie over `key`; calls on_leaf(prefix_length, value) for each matching prefix,
  // shortest first, until on_leaf returns false.
  template <typename OnLeaf>
  void walk(std::string_view key, bool stop_at_nul, OnLeaf&& on_leaf) const;
  std::string_view replacement_at(uint32_t value) const;

  std::vector<uint32_t> units_;
  std::string pool_;
  std::string source_;
};

}  // namespace xling::tokenize
