// Typed configs of the decoder-only LLM families: the Llama family (Llama 1-3, Mistral,
// Qwen2, Gemma, Gemma 2), whose differences are fields here, and BLOOM. Model code never
// looks at model_type.
#pragma once

#include <optional>
#include <vector>

#include "io/config.hpp"

namespace xling::io {

// HF's rope_type values (rope_parameters / rope_scaling).
enum class RopeType { kDefault, kLinear, kDynamic, kLlama3, kYarn };

struct RopeConfig {
  RopeType type = RopeType::kDefault;
  double theta = 10000.0;
  double factor = 1.0;                        // linear, dynamic, llama3, yarn
  double partial_rotary_factor = 1.0;         // 1 for these families: HF rotates whole heads (see parse_rope)
  double low_freq_factor = 1.0, high_freq_factor = 4.0;  // llama3
  int64_t original_max_position_embeddings = 0;          // llama3, yarn (dynamic: always max_position_embeddings, as HF)
  double beta_fast = 32.0, beta_slow = 1.0;   // yarn
  std::optional<double> attention_factor;     // yarn: scales cos and sin (default 0.1 ln(factor) + 1)
  std::optional<double> mscale, mscale_all_dim;  // yarn (DeepSeek-style configs)
  bool truncate = true;                       // yarn: round the correction range to whole dims
};

// Llama-style decoders: RMSNorm, rotary positions, grouped-query attention, gated MLP.
struct DecoderConfig : ModelConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  // < heads: GQA; 1: MQA
  int64_t head_dim = 0;             // hidden_size / heads unless the config says (Gemma: 256)
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  Activation activation = Activation::kSilu;  // of the gate: SwiGLU (silu) or GeGLU (Gemma)
  bool qkv_bias = false;   // q/k/v projections have biases (Qwen2; Llama's attention_bias)
  bool o_bias = false;     // the output projection has one (Llama's attention_bias)
  bool mlp_bias = false;
  RopeConfig rope;
  // Per layer: 0 = full causal attention, W = keys limited to the last W positions (Mistral,
  // Qwen2 with use_sliding_window, Gemma 2's alternating layers).
  std::vector<int64_t> sliding_window;
  bool norm_plus_one = false;     // Gemma: RMSNorm scales by (1 + weight)
  bool scale_embeddings = false;  // Gemma: embeddings * sqrt(hidden_size)
  bool sandwich_norms = false;    // Gemma 2: norms after attention and around the MLP too
  double attention_scale = 0.0;   // head_dim^-0.5, or query_pre_attn_scalar^-0.5 (Gemma 2)
  std::optional<double> attn_logit_softcapping, final_logit_softcapping;  // Gemma 2
  double attention_dropout = 0.0;  // training only
  double initializer_range = 0.02;

  std::vector<std::pair<std::string, std::string>> summary() const override;
};

// BLOOM: ALiBi position biases, LayerNorm after the embeddings, fused query_key_value with the
// heads interleaved as (heads, 3, head_dim), GELU (tanh) MLP, tied embeddings.
struct BloomConfig : ModelConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  double layer_norm_epsilon = 1e-5;
  bool apply_residual_connection_post_layernorm = false;
  double hidden_dropout = 0.0, attention_dropout = 0.0;  // training only
  double initializer_range = 0.02;

  std::vector<std::pair<std::string, std::string>> summary() const override;
};

void register_decoder_configs(ConfigRegistry& registry);

}  // namespace xling::io
