// BERT-family config parsing and validation (see bert_config.hpp).
#include "io/bert_config.hpp"

#include <fmt/format.h>

#include "xling/errors.hpp"

namespace xling::io {
namespace {

void check_probability(const core::JsonFields& f, const std::string& key, double v) {
  if (!(v >= 0.0 && v < 1.0)) f.fail(key, "expected a probability in [0, 1)");
}

}  // namespace

std::unique_ptr<BertConfig> parse_bert_config(const core::JsonFields& f, PositionIds position_ids) {
  auto c = std::make_unique<BertConfig>();
  parse_common_fields(f, *c);
  c->position_ids = position_ids;
  c->vocab_size = f.positive("vocab_size");
  c->hidden_size = f.positive("hidden_size");
  c->num_hidden_layers = f.positive("num_hidden_layers");
  c->num_attention_heads = f.positive("num_attention_heads");
  c->intermediate_size = f.positive("intermediate_size");
  if (c->hidden_size % c->num_attention_heads != 0) {
    f.fail("hidden_size", fmt::format("must be divisible by num_attention_heads ({})", c->num_attention_heads));
  }
  c->hidden_act = parse_activation(f, "hidden_act", "gelu");
  c->hidden_dropout_prob = f.number_or("hidden_dropout_prob", 0.1);
  check_probability(f, "hidden_dropout_prob", c->hidden_dropout_prob);
  c->attention_probs_dropout_prob = f.number_or("attention_probs_dropout_prob", 0.1);
  check_probability(f, "attention_probs_dropout_prob", c->attention_probs_dropout_prob);
  c->classifier_dropout = f.optional_number("classifier_dropout");
  if (c->classifier_dropout) check_probability(f, "classifier_dropout", *c->classifier_dropout);
  c->max_position_embeddings = f.positive_or("max_position_embeddings", 512);
  c->type_vocab_size = f.positive_or("type_vocab_size", 2);
  c->layer_norm_eps = f.number_or("layer_norm_eps", 1e-12);
  c->initializer_range = f.number_or("initializer_range", 0.02);
  if (!(c->initializer_range >= 0.0)) f.fail("initializer_range", "expected a number >= 0");
  if (!(c->layer_norm_eps > 0.0)) f.fail("layer_norm_eps", "expected a positive number");

  std::string pos_type = f.string_or("position_embedding_type", "absolute");
  if (pos_type != "absolute") {
    throw UnsupportedModel(fmt::format("{}: key 'position_embedding_type': only \"absolute\" is supported, found \"{}\"",
                                       f.source(), pos_type));
  }
  if (f.boolean_or("is_decoder", false) || f.boolean_or("add_cross_attention", false)) {
    throw UnsupportedModel(fmt::format("{}: BERT-family decoders (is_decoder/add_cross_attention) are not supported",
                                       f.source()));
  }
  if (c->pad_token_id && (*c->pad_token_id < 0 || *c->pad_token_id >= c->vocab_size)) {
    f.fail("pad_token_id", fmt::format("must lie in [0, vocab_size={})", c->vocab_size));
  }
  if (position_ids == PositionIds::kFromPaddingIdx) {
    if (!c->pad_token_id) f.fail("pad_token_id", "RoBERTa-style position ids need a pad_token_id");
    // Positions run from padding_idx + 1, so the table must be larger than padding_idx + 1.
    if (c->max_position_embeddings <= *c->pad_token_id + 1) {
      f.fail("max_position_embeddings", fmt::format("must exceed pad_token_id + 1 = {}", *c->pad_token_id + 1));
    }
  }
  return c;
}

std::vector<std::pair<std::string, std::string>> BertConfig::summary() const {
  return {
      {"vocab_size", std::to_string(vocab_size)},
      {"hidden_size", std::to_string(hidden_size)},
      {"num_hidden_layers", std::to_string(num_hidden_layers)},
      {"num_attention_heads", std::to_string(num_attention_heads)},
      {"intermediate_size", std::to_string(intermediate_size)},
      {"hidden_act", activation_name(hidden_act)},
      {"max_position_embeddings", std::to_string(max_position_embeddings)},
      {"type_vocab_size", std::to_string(type_vocab_size)},
      {"position_ids", position_ids == PositionIds::kArange ? "arange" : "from padding_idx + 1"},
  };
}

void register_bert_configs(ConfigRegistry& registry) {
  auto bert = [](const core::JsonFields& f) -> std::unique_ptr<ModelConfig> {
    return parse_bert_config(f, PositionIds::kArange);
  };
  auto roberta = [](const core::JsonFields& f) -> std::unique_ptr<ModelConfig> {
    return parse_bert_config(f, PositionIds::kFromPaddingIdx);
  };
  registry.add("bert", "bert", bert);
  registry.add("roberta", "bert", roberta);
  registry.add("xlm-roberta", "bert", roberta);
  registry.add("camembert", "bert", roberta);
}

}  // namespace xling::io
