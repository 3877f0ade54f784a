// Sequence classification / cross-encoder scoring (see sequence_classifier.hpp).
#include "tasks/sequence_classifier.hpp"

#include <fmt/format.h>

#include "tasks/batching.hpp"
#include "xling/errors.hpp"

namespace xling::tasks {

SequenceClassifier SequenceClassifier::load(const std::string& dir, const models::LoadOptions& options) {
  SequenceClassifier c;
  c.model_ = std::make_shared<models::LoadedModel>(models::load_model(dir, models::LoadOptions::with_dtype(options.dtype, options.device)));
  if (c.model_->architecture.find("ForSequenceClassification") == std::string::npos) {
    throw UnsupportedModel(fmt::format("{}: {} is not a sequence-classification model", dir, c.model_->architecture));
  }
  c.tokenizer_ = std::make_shared<tokenize::Tokenizer>(tokenize::Tokenizer::from_file(dir));
  c.id2label_ = c.model_->config->id2label;
  c.num_labels_ = c.model_->config->num_labels;
  c.problem_type_ = c.model_->config->problem_type;
  c.max_length_ = max_input_tokens(*c.model_->config, c.max_length_);
  return c;
}

std::string SequenceClassifier::label(int64_t i) const {
  auto it = id2label_.find(i);
  return it != id2label_.end() ? it->second : fmt::format("LABEL_{}", i);
}

torch::Tensor SequenceClassifier::logits(const std::vector<std::string>& texts, const std::vector<std::string>* pairs,
                                         std::size_t batch_tokens, std::optional<std::size_t> max_length,
                                         std::size_t* truncated) const {
  std::size_t max_len = max_length.value_or(max_length_);
  std::vector<tokenize::Encoding> encs(texts.size());
  std::size_t cut = 0;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    encs[i] = encode_truncated(*tokenizer_, texts[i], pairs ? &(*pairs)[i] : nullptr, max_len, &cut);
  }
  if (truncated) *truncated = cut;
  return logits_tokenized(encs, batch_tokens);
}

torch::Tensor SequenceClassifier::logits_tokenized(const std::vector<tokenize::Encoding>& encs, std::size_t batch_tokens) const {
  torch::Tensor out = torch::empty({static_cast<int64_t>(encs.size()), num_labels_});
  torch::InferenceMode guard;
  for_each_batch(encs, resolve_batch_tokens(batch_tokens, model_->device), tokenizer_->default_padding().pad_id, [&](const Batch& batch) {
    auto logits = model_->forward(
        {{"input_ids", batch.input_ids}, {"attention_mask", batch.attention_mask}, {"token_type_ids", batch.token_type_ids}})
                      .at("logits")
                      .to(torch::kCPU, torch::kFloat32);
    for (std::size_t r = 0; r < batch.rows.size(); ++r) out[static_cast<int64_t>(batch.rows[r])].copy_(logits[static_cast<int64_t>(r)]);
  }, nullptr, pass_cost_tokens(model_->device));
  return out;
}

}  // namespace xling::tasks
