// The result of encoding one text (or pair): ids and their strings, offsets into the
// original text, type ids, special-token mask, attention mask.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tokenize/normalized_string.hpp"

namespace xling::tokenize {

struct Encoding {
  std::vector<int> ids;
  std::vector<std::string> tokens;
  std::vector<Offsets> offsets;  // byte offsets into the original text of the token's sequence
  std::vector<int> type_ids;
  std::vector<uint8_t> special;  // 1 for tokens added by the post-processor
  std::vector<uint8_t> attention_mask;
  std::vector<int> sequence;     // 0 / 1: which input a token came from; -1 for added specials

  std::size_t size() const { return ids.size(); }
  void push(int id, std::string token, Offsets off, int type_id, bool is_special, int seq) {
    ids.push_back(id);
    tokens.push_back(std::move(token));
    offsets.push_back(off);
    type_ids.push_back(type_id);
    special.push_back(is_special ? 1 : 0);
    attention_mask.push_back(1);
    sequence.push_back(seq);
  }
  void append(const Encoding& other) {
    ids.insert(ids.end(), other.ids.begin(), other.ids.end());
    tokens.insert(tokens.end(), other.tokens.begin(), other.tokens.end());
    offsets.insert(offsets.end(), other.offsets.begin(), other.offsets.end());
    type_ids.insert(type_ids.end(), other.type_ids.begin(), other.type_ids.end());
    special.insert(special.end(), other.special.begin(), other.special.end());
    attention_mask.insert(attention_mask.end(), other.attention_mask.begin(), other.attention_mask.end());
    sequence.insert(sequence.end(), other.sequence.begin(), other.sequence.end());
  }
  void truncate(std::size_t n) {
    if (n >= ids.size()) return;
    ids.resize(n); tokens.resize(n); offsets.resize(n); type_ids.resize(n); special.resize(n);
    attention_mask.resize(n); sequence.resize(n);
  }
};

}  // namespace xling::tokenize
