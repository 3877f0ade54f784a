#include "tasks/cross_encoder.hpp"

#include "xling/errors.hpp"

namespace xling::tasks {

torch::Tensor relevance_from_logits(const torch::Tensor& logits, bool raw) {
  const int64_t last = logits.size(1) - 1;
  if (raw) return logits.select(1, last);
  if (logits.size(1) == 1) return torch::sigmoid(logits.select(1, 0));
  return torch::softmax(logits, 1).select(1, last);
}

std::vector<float> relevance_scores(const SequenceClassifier& model, const std::vector<std::string>& queries,
                                    const std::vector<std::string>& passages, bool raw, std::size_t batch_tokens,
                                    std::size_t* truncated) {
  if (queries.size() != passages.size()) throw InvalidArgument("relevance_scores: queries and passages differ in number");
  if (queries.empty()) return {};
  std::size_t cut = 0;
  auto logits = model.logits(queries, &passages, batch_tokens, std::nullopt, &cut);
  if (truncated) *truncated = cut;
  auto c = relevance_from_logits(logits, raw).to(torch::kCPU, torch::kFloat32).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

}  // namespace xling::tasks
