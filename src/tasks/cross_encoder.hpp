// Relevance scores of a cross-encoder (a *ForSequenceClassification reranker) for (query,
// passage) pairs, as sentence-transformers' CrossEncoder.predict computes them: the sigmoid
// of a single logit, or the softmax probability of the last class; `raw` keeps the logit.
#pragma once

#include <string>
#include <vector>

#include "tasks/sequence_classifier.hpp"

namespace xling::tasks {

// logits (N, L) -> relevance (N): the sigmoid of a single logit, else the softmax probability
// of the last class; `raw`: that last logit.
torch::Tensor relevance_from_logits(const torch::Tensor& logits, bool raw);

std::vector<float> relevance_scores(const SequenceClassifier& model, const std::vector<std::string>& queries,
                                    const std::vector<std::string>& passages, bool raw, std::size_t batch_tokens,
                                    std::size_t* truncated = nullptr);

}  // namespace xling::tasks
