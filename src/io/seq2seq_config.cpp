// Encoder-decoder config parsing and validation (see seq2seq_config.hpp). The defaults of
// absent keys are those of each HF config class (M2M100Config, MBartConfig, MarianConfig,
// BartConfig, T5Config, MT5Config).
#include "io/seq2seq_config.hpp"

#include <fmt/format.h>

#include "xling/errors.hpp"

namespace xling::io {
namespace {

struct BartDefaults {
  PositionKind positions;
  bool layernorm_embedding, pre_norm, final_logits_bias, scale_embedding;
  DecoderShift shift;
  const char* activation;
  int64_t decoder_start;
};

void check_token(const core::JsonFields& f, const std::string& key, const std::optional<int64_t>& id, int64_t vocab) {
  if (id && (*id < 0 || *id >= vocab)) f.fail(key, fmt::format("must lie in [0, vocab_size={})", vocab));
}

void check_probability(const core::JsonFields& f, const std::string& key, double v) {
  if (!(v >= 0.0 && v < 1.0)) f.fail(key, "expected a probability in [0, 1)");
}

void parse_seq2seq_common(const core::JsonFields& f, Seq2SeqConfig& c, int64_t default_start) {
  parse_common_fields(f, c);
  c.vocab_size = f.positive("vocab_size");
  c.decoder_start_token_id = f.integer_or("decoder_start_token_id", default_start);
  check_token(f, "decoder_start_token_id", c.decoder_start_token_id, c.vocab_size);
  check_token(f, "pad_token_id", c.pad_token_id, c.vocab_size);
  for (int64_t e : c.eos_token_ids) check_token(f, "eos_token_id", e, c.vocab_size);
  c.forced_bos_token_id = f.optional_integer("forced_bos_token_id");
  c.forced_eos_token_id = f.optional_integer("forced_eos_token_id");
  check_token(f, "forced_bos_token_id", c.forced_bos_token_id, c.vocab_size);
  check_token(f, "forced_eos_token_id", c.forced_eos_token_id, c.vocab_size);
}

std::unique_ptr<ModelConfig> parse_bart(const core::JsonFields& f, const BartDefaults& d) {
  auto c = std::make_unique<BartConfig>();
  parse_seq2seq_common(f, *c, d.decoder_start);
  // (T5 encoder-only classes say is_encoder_decoder false too; their config is the same struct.)
  if (f.has("is_encoder_decoder") && !f.boolean_or("is_encoder_decoder", true)) {
    throw UnsupportedModel(fmt::format("{}: is_encoder_decoder is false; only the encoder-decoder form of '{}' is supported",
                                       f.source(), c->model_type));
  }
  c->family = "bart";
  c->d_model = f.positive("d_model");
  c->encoder_layers = f.positive("encoder_layers");
  c->decoder_layers = f.positive("decoder_layers");
  c->encoder_attention_heads = f.positive("encoder_attention_heads");
  c->decoder_attention_heads = f.positive("decoder_attention_heads");
  c->encoder_ffn_dim = f.positive("encoder_ffn_dim");
  c->decoder_ffn_dim = f.positive("decoder_ffn_dim");
  for (const char* k : {"encoder_attention_heads", "decoder_attention_heads"}) {
    if (c->d_model % f.positive(k) != 0) f.fail(k, fmt::format("must divide d_model ({})", c->d_model));
  }
  c->max_position_embeddings = f.positive_or("max_position_embeddings", 1024);
  c->activation = parse_activation(f, "activation_function", d.activation);
  c->scale_embedding = f.boolean_or("scale_embedding", d.scale_embedding);
  c->positions = d.positions;
  c->layernorm_embedding = d.layernorm_embedding;
  c->pre_norm = d.pre_norm;
  c->final_layer_norm = d.pre_norm;
  c->final_logits_bias = d.final_logits_bias;
  c->shift = d.shift;
  c->share_encoder_decoder_embeddings = f.boolean_or("share_encoder_decoder_embeddings", true);
  c->decoder_vocab_size = f.positive_or("decoder_vocab_size", c->vocab_size);
  if (c->share_encoder_decoder_embeddings && c->decoder_vocab_size != c->vocab_size) {
    f.fail("decoder_vocab_size", fmt::format("differs from vocab_size ({}) although share_encoder_decoder_embeddings is true",
                                             c->vocab_size));
  }
  check_token(f, "decoder_start_token_id", c->decoder_start_token_id, c->decoder_vocab_size);
  c->dropout = f.number_or("dropout", 0.1);
  c->attention_dropout = f.number_or("attention_dropout", 0.0);
  c->activation_dropout = f.number_or("activation_dropout", 0.0);
  check_probability(f, "dropout", c->dropout);
  check_probability(f, "attention_dropout", c->attention_dropout);
  check_probability(f, "activation_dropout", c->activation_dropout);
  c->init_std = f.number_or("init_std", 0.02);
  if (c->positions == PositionKind::kSinusoidalPadded && !c->pad_token_id) {
    f.fail("pad_token_id", "M2M-100-style sinusoidal positions need a pad_token_id");
  }
  if (!c->pad_token_id) f.fail("pad_token_id", "encoder-decoder models need a pad_token_id (labels -100 become it)");
  return c;
}

std::unique_ptr<ModelConfig> parse_t5(const core::JsonFields& f, bool is_mt5) {
  auto c = std::make_unique<T5Config>();
  parse_seq2seq_common(f, *c, 0);
  c->family = "t5";
  c->d_model = f.positive_or("d_model", 512);
  c->d_kv = f.positive_or("d_kv", 64);
  c->d_ff = f.positive_or("d_ff", 2048);
  c->num_layers = f.positive_or("num_layers", 6);
  c->num_decoder_layers = f.has("num_decoder_layers") && !f.raw("num_decoder_layers").is_null()
                              ? f.positive("num_decoder_layers")
                              : c->num_layers;
  c->num_heads = f.positive_or("num_heads", 8);
  c->relative_attention_num_buckets = f.positive_or("relative_attention_num_buckets", 32);
  c->relative_attention_max_distance = f.positive_or("relative_attention_max_distance", 128);
  if (c->relative_attention_num_buckets < 4) f.fail("relative_attention_num_buckets", "expected at least 4");
  c->layer_norm_epsilon = f.number_or("layer_norm_epsilon", 1e-6);
  if (!(c->layer_norm_epsilon > 0)) f.fail("layer_norm_epsilon", "expected a positive number");
  c->dropout = f.number_or("dropout_rate", 0.1);
  check_probability(f, "dropout_rate", c->dropout);
  c->initializer_factor = f.number_or("initializer_factor", 1.0);
  // feed_forward_proj: "relu", "gelu", "gated-gelu" (-> gelu_new, as HF maps it), "gated-silu", ...
  std::string proj = f.string_or("feed_forward_proj", is_mt5 ? "gated-gelu" : "relu");
  std::string act = proj;
  if (proj.rfind("gated-", 0) == 0) {
    c->gated_act = true;
    act = proj.substr(6);
  }
  if (act.find('-') != std::string::npos || act.empty()) {
    f.fail("feed_forward_proj", "expected ACT or gated-ACT, e.g. relu or gated-gelu");
  }
  if (proj == "gated-gelu") act = "gelu_new";
  nlohmann::json tmp = {{"act", act}};
  core::JsonFields act_field(tmp, f.source());
  try {
    c->dense_act = parse_activation(act_field, "act", "relu");
  } catch (const InvalidArgument&) {
    f.fail("feed_forward_proj", fmt::format("activation '{}' is not supported", act));
  }
  // transformers 5: T5 scales decoder outputs unless config.json says tie_word_embeddings=false
  // (T5 v1.1); mT5 never does. Both tie the embeddings unless the checkpoint stores them apart.
  c->scale_decoder_outputs = !is_mt5 && f.boolean_or("tie_word_embeddings", true);
  c->tie_word_embeddings = true;
  return c;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> BartConfig::summary() const {
  const char* pos = positions == PositionKind::kSinusoidalPadded   ? "sinusoidal (fairseq, padding offset)"
                    : positions == PositionKind::kSinusoidalMarian ? "sinusoidal (Marian)"
                                                                    : "learned (offset 2)";
  return {
      {"vocab_size", std::to_string(vocab_size)},
      {"d_model", std::to_string(d_model)},
      {"layers (encoder + decoder)", fmt::format("{} + {}", encoder_layers, decoder_layers)},
      {"attention_heads", fmt::format("{} / {}", encoder_attention_heads, decoder_attention_heads)},
      {"ffn_dim", fmt::format("{} / {}", encoder_ffn_dim, decoder_ffn_dim)},
      {"activation", activation_name(activation)},
      {"positions", pos},
      {"norm", pre_norm ? "pre-norm + final LayerNorm" : "post-norm"},
      {"scale_embedding", scale_embedding ? "true" : "false"},
      {"decoder_start_token_id", std::to_string(decoder_start_token_id)},
  };
}

std::vector<std::pair<std::string, std::string>> T5Config::summary() const {
  return {
      {"vocab_size", std::to_string(vocab_size)},
      {"d_model", std::to_string(d_model)},
      {"layers (encoder + decoder)", fmt::format("{} + {}", num_layers, num_decoder_layers)},
      {"heads x d_kv", fmt::format("{} x {}", num_heads, d_kv)},
      {"d_ff", fmt::format("{}{}", d_ff, gated_act ? " (gated)" : "")},
      {"activation", activation_name(dense_act)},
      {"relative buckets / max distance",
       fmt::format("{} / {}", relative_attention_num_buckets, relative_attention_max_distance)},
      {"scale_decoder_outputs", scale_decoder_outputs ? "true" : "false"},
  };
}

void register_seq2seq_configs(ConfigRegistry& registry) {
  auto bart_family = [&](const std::string& type, BartDefaults d) {
    registry.add(type, "bart", [d](const core::JsonFields& f) { return parse_bart(f, d); });
  };
  bart_family("m2m_100", {PositionKind::kSinusoidalPadded, false, true, false, true, DecoderShift::kStartToken, "relu", 2});
  bart_family("mbart", {PositionKind::kLearnedOffset2, true, true, true, false, DecoderShift::kRotateLast, "gelu", 2});
  bart_family("marian", {PositionKind::kSinusoidalMarian, false, false, true, false, DecoderShift::kStartToken, "gelu", 58100});
  bart_family("bart", {PositionKind::kLearnedOffset2, true, false, true, false, DecoderShift::kStartToken, "gelu", 2});
  registry.add("t5", "t5", [](const core::JsonFields& f) { return parse_t5(f, false); });
  registry.add("mt5", "t5", [](const core::JsonFields& f) { return parse_t5(f, true); });
}

}  // namespace xling::io
