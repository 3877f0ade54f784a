// Text and text-pair classification with a *ForSequenceClassification model: classifiers
// (XLM-T sentiment, NLI) and cross-encoder rerankers (mMARCO). Logits come out in input order.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "models/registry.hpp"
#include "tokenize/tokenizer.hpp"

namespace xling::tasks {

class SequenceClassifier {
 public:
  static SequenceClassifier load(const std::string& dir, const models::LoadOptions& options = {});  // dtype, device
  // texts (and pairs, same length, or nullptr) -> logits (N, L), input order. `truncated`
  // counts inputs cut to the model's maximum length.
  torch::Tensor logits(const std::vector<std::string>& texts, const std::vector<std::string>* pairs,
                       std::size_t batch_tokens, std::optional<std::size_t> max_length, std::size_t* truncated) const;
  // Encodings made with tasks::encode_truncated (special tokens, the model's max length at most)
  // -> logits (N, L), input order; what a server uses after tokenizing on its request threads.
  torch::Tensor logits_tokenized(const std::vector<tokenize::Encoding>& encs, std::size_t batch_tokens) const;
  std::string label(int64_t i) const;  // id2label, or LABEL_i
  int64_t num_labels() const { return num_labels_; }
  std::string problem_type() const { return problem_type_; }
  // The HF text-classification pipeline's default scores: an independent sigmoid per label for
  // multi-label and one-label models, a softmax over the labels otherwise.
  bool scores_with_sigmoid() const { return problem_type_ == "multi_label_classification" || num_labels_ == 1; }
  const tokenize::Tokenizer& tokenizer() const { return *tokenizer_; }
  std::size_t max_length() const { return max_length_; }

 private:
  std::shared_ptr<models::LoadedModel> model_;
  std::shared_ptr<tokenize::Tokenizer> tokenizer_;
  std::map<int64_t, std::string> id2label_;
  int64_t num_labels_ = 0;
  std::size_t max_length_ = 512;
  std::string problem_type_;
};

}  // namespace xling::tasks
