// Added tokens (special or not) are found in the text before the model runs: those with
// normalized=false on the raw text, the others on the normalized text; lstrip/rstrip
// swallow adjacent whitespace, single_word refuses matches inside words.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenize/normalized_string.hpp"

namespace xling::tokenize {

class Normalizer;

struct AddedToken {
  int id = 0;
  std::string content;
  bool special = false, lstrip = false, rstrip = false, single_word = false, normalized = true;
};

// A piece of text, already a token (id) or still to be pre-tokenized (nullopt).
struct AddedSplit {
  NormalizedString text;
  std::optional<int> id;
};

class AddedVocabulary {
 public:
  AddedVocabulary() = default;
  // `normalizer` normalizes the contents of normalized=true tokens before matching.
  AddedVocabulary(std::vector<AddedToken> tokens, const Normalizer* normalizer);

  // HF extract_and_normalize: split on raw-matched tokens, normalize the rest, split on
  // normalized-matched tokens.
  std::vector<AddedSplit> extract_and_normalize(std::string_view text, const Normalizer* normalizer) const;

  const AddedToken* find_id(int id) const;
  std::optional<int> find_content(std::string_view content) const;
  bool is_special(int id) const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  struct Trie {
    struct Node {
      std::vector<std::pair<unsigned char, int>> next;
      int token = -1;  // index into tokens_
    };
    std::vector<Node> nodes{Node{}};
    void insert(std::string_view s, int token);
    // Longest token starting at s[pos]: (token index, length) or (-1, 0).
    std::pair<int, std::size_t> longest(std::string_view s, std::size_t pos) const;
  };
  void split(const NormalizedString& piece, const Trie& trie, std::vector<AddedSplit>& out) const;

  std::vector<AddedToken> tokens_;
  Trie raw_, normalized_;
  bool has_raw_ = false, has_normalized_ = false;
};

AddedToken parse_added_token(const nlohmann::json& j, const std::string& source);

}  // namespace xling::tokenize
