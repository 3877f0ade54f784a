// Sequence classification / cross-encoder scoring (see sequence_classifier.hpp).
#include "tasks/sequence_classifier.hpp"

#include <fmt/format.h>

#include "io/bert_config.hpp"
#include "tasks/batching.hpp"
#include "xling/errors.hpp"

namespace xling::tasks {

SequenceClassifier SequenceClassifier::load(const std::string& dir) {
  SequenceClassifier c;
  c.model_ = std::make_shared<models::LoadedModel>(models::load_model(dir));
  if (c.model_->architecture.find("ForSequenceClassification") == std::string::npos) {
    throw UnsupportedModel(fmt::format("{}: {} is not a sequence-classification model", dir, c.model_->architecture));
  }
  c.tokenizer_ = std::make_shared<tokenize::Tokenizer>(tokenize::Tokenizer::from_file(dir));
  c.id2label_ = c.model_->config->id2label;
  c.num_labels_ = c.model_->config->num_labels;
  c.problem_type_ = c.model_->config->problem_type;
  if (auto* bert = dynamic_cast<const io::BertConfig*>(c.model_->config.get())) {
    std::size_t usable = static_cast<std::size_t>(bert->max_position_embeddings);
    if (bert->position_ids == io::PositionIds::kFromPaddingIdx) usable -= static_cast<std::size_t>(bert->pad_token_id.value_or(1) + 1);
    c.max_length_ = usable;
  }
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
    encs[i] = pairs ? tokenizer_->encode_pair(texts[i], (*pairs)[i]) : tokenizer_->encode(texts[i]);
    if (encs[i].size() > max_len) {
      std::vector<std::string> a{texts[i]}, b;
      if (pairs) b.push_back((*pairs)[i]);
      encs[i] = tokenizer_->encode_batch(a, pairs ? &b : nullptr, true, tokenize::TruncationOptions{max_len, tokenize::Side::kRight},
                                         tokenize::PaddingOptions{})[0];
      ++cut;
    }
  }
  if (truncated) *truncated = cut;
  torch::Tensor out = torch::empty({static_cast<int64_t>(texts.size()), num_labels_});
  torch::InferenceMode guard;
  for_each_batch(encs, batch_tokens, tokenizer_->default_padding().pad_id, [&](const Batch& batch) {
    auto logits = model_->forward(
        {{"input_ids", batch.input_ids}, {"attention_mask", batch.attention_mask}, {"token_type_ids", batch.token_type_ids}})
                      .at("logits");
    for (std::size_t r = 0; r < batch.rows.size(); ++r) out[static_cast<int64_t>(batch.rows[r])].copy_(logits[static_cast<int64_t>(r)]);
  });
  return out;
}

}  // namespace xling::tasks
