// Decoder-only config parsing and validation (see decoder_config.hpp). Absent keys take the
// defaults of each HF config class (LlamaConfig, MistralConfig, Qwen2Config, GemmaConfig,
// Gemma2Config, BloomConfig of transformers 5); older files' rope_theta / rope_scaling and
// transformers 5's rope_parameters are both read.
#include "io/decoder_config.hpp"

#include <cmath>

#include <fmt/format.h>

#include "xling/errors.hpp"

namespace xling::io {
namespace {

struct DecoderDefaults {
  int64_t vocab_size, hidden_size, intermediate_size, layers, heads;
  int64_t kv_heads;  // 0: = heads
  int64_t head_dim;  // 0: hidden / heads
  int64_t max_positions;
  const char* activation;
  bool tie, qkv_bias_always, gemma, gemma2;
  int64_t sliding_window;  // Mistral's default window (0: none)
};

void check_token(const core::JsonFields& f, const std::string& key, const std::optional<int64_t>& id, int64_t vocab) {
  if (id && (*id < 0 || *id >= vocab)) f.fail(key, fmt::format("must lie in [0, vocab_size={})", vocab));
}

const char* rope_name(RopeType t) {
  switch (t) {
    case RopeType::kLinear: return "linear";
    case RopeType::kDynamic: return "dynamic";
    case RopeType::kLlama3: return "llama3";
    case RopeType::kYarn: return "yarn";
    default: return "default";
  }
}

RopeType parse_rope_type(const core::JsonFields& f, const std::string& key, const std::string& name) {
  if (name == "default" || name.empty()) return RopeType::kDefault;
  if (name == "linear") return RopeType::kLinear;
  if (name == "dynamic") return RopeType::kDynamic;
  if (name == "llama3") return RopeType::kLlama3;
  if (name == "yarn") return RopeType::kYarn;
  f.fail(key, "rope type not supported (default, linear, dynamic, llama3, yarn)");
}

// rope_theta / partial_rotary_factor at the top level, then rope_scaling (older files), then
// rope_parameters (transformers 5), each overriding what it holds.
RopeConfig parse_rope(const core::JsonFields& f, int64_t max_positions) {
  RopeConfig r;
  r.theta = f.number_or("rope_theta", 10000.0);
  r.partial_rotary_factor = f.number_or("partial_rotary_factor", 1.0);
  for (const char* key : {"rope_scaling", "rope_parameters"}) {
    if (!f.has(key)) continue;
    const auto& raw = f.raw(key);
    if (!raw.is_object()) f.fail(key, "expected an object");
    core::JsonFields p(raw, f.source() + " (" + key + ")");
    std::string type = p.string_or("rope_type", p.string_or("type", ""));
    if (!type.empty()) r.type = parse_rope_type(f, key, type);
    r.theta = p.number_or("rope_theta", r.theta);
    r.partial_rotary_factor = p.number_or("partial_rotary_factor", r.partial_rotary_factor);
    r.factor = p.number_or("factor", r.factor);
    r.low_freq_factor = p.number_or("low_freq_factor", r.low_freq_factor);
    r.high_freq_factor = p.number_or("high_freq_factor", r.high_freq_factor);
    r.original_max_position_embeddings = p.integer_or("original_max_position_embeddings", r.original_max_position_embeddings);
    r.beta_fast = p.number_or("beta_fast", r.beta_fast);
    r.beta_slow = p.number_or("beta_slow", r.beta_slow);
    if (auto v = p.optional_number("attention_factor")) r.attention_factor = v;
    if (auto v = p.optional_number("mscale")) r.mscale = v;
    if (auto v = p.optional_number("mscale_all_dim")) r.mscale_all_dim = v;
    r.truncate = p.boolean_or("truncate", r.truncate);
  }
  if (!(r.theta > 0)) f.fail("rope_theta", "expected a positive number");
  if (!(r.partial_rotary_factor > 0 && r.partial_rotary_factor <= 1)) f.fail("partial_rotary_factor", "expected (0, 1]");
  if (r.type != RopeType::kDefault && !(r.factor > 0)) f.fail("rope_parameters", "factor must be positive");
  if (r.type == RopeType::kLlama3 && !(r.high_freq_factor > r.low_freq_factor)) {
    f.fail("rope_parameters", "llama3 scaling needs high_freq_factor > low_freq_factor");
  }
  if (r.type == RopeType::kLlama3 && r.original_max_position_embeddings <= 0) {
    f.fail("rope_parameters", "llama3 scaling needs original_max_position_embeddings");
  }
  // HF's dynamic NTK scaling measures lengths against max_position_embeddings only (an
  // original_max_position_embeddings in its parameters is ignored).
  if (r.original_max_position_embeddings <= 0 || r.type == RopeType::kDynamic) r.original_max_position_embeddings = max_positions;
  return r;
}

std::unique_ptr<ModelConfig> parse_decoder(const core::JsonFields& f, const DecoderDefaults& d) {
  auto c = std::make_unique<DecoderConfig>();
  parse_common_fields(f, *c);
  c->family = "decoder";
  c->vocab_size = f.positive_or("vocab_size", d.vocab_size);
  c->hidden_size = f.positive_or("hidden_size", d.hidden_size);
  c->intermediate_size = f.positive_or("intermediate_size", d.intermediate_size);
  c->num_hidden_layers = f.positive_or("num_hidden_layers", d.layers);
  c->num_attention_heads = f.positive_or("num_attention_heads", d.heads);
  c->num_key_value_heads = f.positive_or("num_key_value_heads", d.kv_heads > 0 ? d.kv_heads : c->num_attention_heads);
  if (c->num_attention_heads % c->num_key_value_heads != 0) {
    f.fail("num_key_value_heads", fmt::format("must divide num_attention_heads ({})", c->num_attention_heads));
  }
  const int64_t default_head_dim = d.head_dim > 0 ? d.head_dim : c->hidden_size / c->num_attention_heads;
  c->head_dim = f.positive_or("head_dim", default_head_dim);
  if (!f.has("head_dim") && d.head_dim == 0 && c->hidden_size % c->num_attention_heads != 0) {
    f.fail("num_attention_heads", fmt::format("must divide hidden_size ({}) when head_dim is not given", c->hidden_size));
  }
  c->max_position_embeddings = f.positive_or("max_position_embeddings", d.max_positions);
  c->rms_norm_eps = f.number_or("rms_norm_eps", 1e-6);
  if (!(c->rms_norm_eps > 0)) f.fail("rms_norm_eps", "expected a positive number");
  // Gemma 2 names its MLP activation hidden_activation (its hidden_act is ignored); transformers 5's
  // Gemma (1) reads hidden_act, like Llama (its hidden_activation is ignored).
  c->activation = d.gemma2 ? parse_activation(f, "hidden_activation", d.activation)
                           : parse_activation(f, "hidden_act", d.activation);
  const bool attention_bias = f.boolean_or("attention_bias", false);
  c->qkv_bias = d.qkv_bias_always || attention_bias;
  c->o_bias = attention_bias;
  c->mlp_bias = f.boolean_or("mlp_bias", false);
  c->tie_word_embeddings = f.boolean_or("tie_word_embeddings", d.tie);
  c->rope = parse_rope(f, c->max_position_embeddings);
  // These families' HF rotary embeddings rotate whole heads: the default RoPE ignores
  // partial_rotary_factor, and the scaled types' frequencies would not fit the heads (HF fails).
  if (c->rope.partial_rotary_factor != 1.0) {
    if (c->rope.type != RopeType::kDefault) {
      const char* key = f.has("partial_rotary_factor") ? "partial_rotary_factor"
                        : f.has("rope_parameters")      ? "rope_parameters"
                                                        : "rope_scaling";
      f.fail(key, fmt::format("{} rotates whole heads; transformers cannot run partial_rotary_factor < 1 with "
                              "rope type '{}'", c->model_type, rope_name(c->rope.type)));
    }
    c->rope.partial_rotary_factor = 1.0;
  }
  if (c->head_dim % 2 != 0) f.fail("head_dim", "rotary embeddings need an even head_dim");
  // Which layers use a sliding window: layer_types when written, else the family's rule.
  const std::optional<int64_t> window = f.has("sliding_window") ? f.optional_integer("sliding_window")
                                                                : (d.sliding_window > 0 ? std::optional<int64_t>(d.sliding_window)
                                                                                        : std::nullopt);
  c->sliding_window.assign(static_cast<std::size_t>(c->num_hidden_layers), 0);
  if (f.has("layer_types")) {
    auto types = f.string_list("layer_types");
    if (static_cast<int64_t>(types.size()) != c->num_hidden_layers) {
      f.fail("layer_types", fmt::format("expected {} entries (num_hidden_layers)", c->num_hidden_layers));
    }
    for (std::size_t i = 0; i < types.size(); ++i) {
      if (types[i] == "sliding_attention") {
        if (!window || *window <= 0) f.fail("sliding_window", "layer_types has sliding_attention layers but no window");
        c->sliding_window[i] = *window;
      } else if (types[i] != "full_attention") {
        f.fail("layer_types", fmt::format("entry {} '{}' is not full_attention or sliding_attention", i, types[i]));
      }
    }
  } else if (window && *window > 0) {
    const bool qwen_rule = f.has("use_sliding_window");
    for (int64_t i = 0; i < c->num_hidden_layers; ++i) {
      bool sliding = true;
      if (qwen_rule) sliding = f.boolean_or("use_sliding_window", false) && i >= f.integer_or("max_window_layers", 28);
      if (d.gemma2) sliding = (i + 1) % 2 != 0;
      if (sliding) c->sliding_window[static_cast<std::size_t>(i)] = *window;
    }
  }
  c->norm_plus_one = d.gemma;
  c->scale_embeddings = d.gemma;
  c->sandwich_norms = d.gemma2;
  const double query_scalar = d.gemma2 ? f.number_or("query_pre_attn_scalar", 256.0) : static_cast<double>(c->head_dim);
  if (!(query_scalar > 0)) f.fail("query_pre_attn_scalar", "expected a positive number");
  c->attention_scale = 1.0 / std::sqrt(query_scalar);
  if (d.gemma2) {
    c->attn_logit_softcapping = f.has("attn_logit_softcapping") ? f.optional_number("attn_logit_softcapping") : 50.0;
    c->final_logit_softcapping = f.has("final_logit_softcapping") ? f.optional_number("final_logit_softcapping") : 30.0;
  }
  c->attention_dropout = f.number_or("attention_dropout", 0.0);
  c->initializer_range = f.number_or("initializer_range", 0.02);
  check_token(f, "pad_token_id", c->pad_token_id, c->vocab_size);
  check_token(f, "bos_token_id", c->bos_token_id, c->vocab_size);
  for (int64_t e : c->eos_token_ids) check_token(f, "eos_token_id", e, c->vocab_size);
  return c;
}

std::unique_ptr<ModelConfig> parse_bloom(const core::JsonFields& f) {
  auto c = std::make_unique<BloomConfig>();
  parse_common_fields(f, *c);
  c->family = "bloom";
  c->vocab_size = f.positive_or("vocab_size", 250880);
  c->hidden_size = f.positive_or("hidden_size", f.positive_or("n_embed", 64));
  c->n_layer = f.positive_or("n_layer", f.positive_or("num_hidden_layers", 2));
  c->n_head = f.positive_or("n_head", f.positive_or("num_attention_heads", 8));
  if (c->hidden_size % c->n_head != 0) f.fail("n_head", fmt::format("must divide hidden_size ({})", c->hidden_size));
  c->layer_norm_epsilon = f.number_or("layer_norm_epsilon", 1e-5);
  if (!(c->layer_norm_epsilon > 0)) f.fail("layer_norm_epsilon", "expected a positive number");
  c->apply_residual_connection_post_layernorm = f.boolean_or("apply_residual_connection_post_layernorm", false);
  c->hidden_dropout = f.number_or("hidden_dropout", 0.0);
  c->attention_dropout = f.number_or("attention_dropout", 0.0);
  c->initializer_range = f.number_or("initializer_range", 0.02);
  c->tie_word_embeddings = f.boolean_or("tie_word_embeddings", true);
  check_token(f, "pad_token_id", c->pad_token_id, c->vocab_size);
  for (int64_t e : c->eos_token_ids) check_token(f, "eos_token_id", e, c->vocab_size);
  return c;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> DecoderConfig::summary() const {
  int64_t sliding = 0;
  for (auto w : sliding_window) sliding += w > 0;
  return {
      {"vocab_size", std::to_string(vocab_size)},
      {"hidden_size", std::to_string(hidden_size)},
      {"layers", std::to_string(num_hidden_layers)},
      {"heads (query / key-value) x head_dim",
       fmt::format("{} / {} x {}", num_attention_heads, num_key_value_heads, head_dim)},
      {"intermediate_size", std::to_string(intermediate_size)},
      {"mlp", fmt::format("gated {}", activation_name(activation))},
      {"rope", fmt::format("{} (theta {}, factor {})", rope_name(rope.type), rope.theta, rope.factor)},
      {"sliding-window layers", std::to_string(sliding)},
      {"tie_word_embeddings", tie_word_embeddings ? "true" : "false"},
  };
}

std::vector<std::pair<std::string, std::string>> BloomConfig::summary() const {
  return {
      {"vocab_size", std::to_string(vocab_size)},
      {"hidden_size", std::to_string(hidden_size)},
      {"layers", std::to_string(n_layer)},
      {"heads", std::to_string(n_head)},
      {"positions", "ALiBi"},
  };
}

void register_decoder_configs(ConfigRegistry& registry) {
  // vocab, hidden, intermediate, layers, heads, kv, head_dim, max_pos, act, tie, qkv_bias, gemma, gemma2, window
  const DecoderDefaults llama{32000, 4096, 11008, 32, 32, 0, 0, 2048, "silu", false, false, false, false, 0};
  const DecoderDefaults mistral{32000, 4096, 14336, 32, 32, 8, 0, 4096 * 32, "silu", false, false, false, false, 4096};
  const DecoderDefaults qwen2{151936, 4096, 22016, 32, 32, 0, 0, 32768, "silu", false, true, false, false, 0};
  const DecoderDefaults gemma{256000, 3072, 24576, 28, 16, 16, 256, 8192, "gelu_pytorch_tanh", true, false, true, false, 0};
  const DecoderDefaults gemma2{256000, 2304, 9216, 26, 8, 4, 256, 8192, "gelu_pytorch_tanh", true, false, true, true, 4096};
  registry.add("llama", "decoder", [llama](const core::JsonFields& f) { return parse_decoder(f, llama); });
  registry.add("mistral", "decoder", [mistral](const core::JsonFields& f) { return parse_decoder(f, mistral); });
  registry.add("qwen2", "decoder", [qwen2](const core::JsonFields& f) { return parse_decoder(f, qwen2); });
  registry.add("gemma", "decoder", [gemma](const core::JsonFields& f) { return parse_decoder(f, gemma); });
  registry.add("gemma2", "decoder", [gemma2](const core::JsonFields& f) { return parse_decoder(f, gemma2); });
  registry.add("bloom", "bloom", [](const core::JsonFields& f) { return parse_bloom(f); });
}

}  // namespace xling::io
