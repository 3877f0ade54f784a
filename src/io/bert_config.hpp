// Typed config of the BERT family: BERT/mBERT/LaBSE and RoBERTa/XLM-R/CamemBERT. The
// variants differ in how position ids are made, a typed field here, never a model_type
// check in forward().
#pragma once

#include <optional>

#include "io/config.hpp"

namespace xling::io {

enum class PositionIds {
  kArange,          // BERT: 0, 1, 2, ...
  kFromPaddingIdx,  // RoBERTa/XLM-R: padding_idx + 1 + running count of non-pad tokens; pads get padding_idx
};

struct BertConfig : ModelConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t intermediate_size = 0;
  Activation hidden_act = Activation::kGelu;
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;
  std::optional<double> classifier_dropout;  // null -> hidden_dropout_prob (HF)
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  double layer_norm_eps = 1e-12;
  double initializer_range = 0.02;  // std of HF's normal init for new weights (heads)
  PositionIds position_ids = PositionIds::kArange;

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  std::vector<std::pair<std::string, std::string>> summary() const override;
};

// Registers "bert", "roberta", "xlm-roberta", "camembert" with the registry.
void register_bert_configs(ConfigRegistry& registry);

// Parses and validates; `position_ids` is the variant implied by model_type.
std::unique_ptr<BertConfig> parse_bert_config(const core::JsonFields& fields, PositionIds position_ids);

}  // namespace xling::io
