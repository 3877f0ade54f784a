// Token classification (NER, POS) as HF's token-classification pipeline returns it: per-token
// labels and scores, and entities grouped with the aggregation strategies none, simple,
// first, average, max; character offsets into the input text. Labels "O" are dropped.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/registry.hpp"
#include "tokenize/tokenizer.hpp"

namespace xling::tasks {

enum class Aggregation { kNone, kSimple, kFirst, kAverage, kMax };
Aggregation parse_aggregation(const std::string& name);

struct TaggedEntity {
  std::string label;   // "entity" (none) or "entity_group"
  double score = 0;
  std::string word;
  uint32_t start = 0, end = 0;  // characters of the input text
  int64_t index = -1;           // token index (aggregation none only)
};

class TokenTagger {
 public:
  static TokenTagger load(const std::string& dir, const models::LoadOptions& options = {});  // dtype, device
  // One list of entities per text. `truncated` counts texts cut to the model's maximum length.
  std::vector<std::vector<TaggedEntity>> tag(const std::vector<std::string>& texts, Aggregation aggregation,
                                             std::size_t batch_tokens, std::size_t* truncated) const;
  const tokenize::Tokenizer& tokenizer() const { return *tokenizer_; }
  std::size_t max_length() const { return max_length_; }

 private:
  std::shared_ptr<models::LoadedModel> model_;
  std::shared_ptr<tokenize::Tokenizer> tokenizer_;
  std::size_t max_length_ = 512;
  bool word_aware_ = false;  // WordPiece-style continuing-subword prefix
  int unk_id_ = -1;
};

}  // namespace xling::tasks
