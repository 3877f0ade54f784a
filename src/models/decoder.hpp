// The Llama family of decoder-only LLMs as libtorch modules whose state_dict keys are HF's
// (model.embed_tokens, model.layers.N.{self_attn.{q,k,v,o}_proj, mlp.{gate,up,down}_proj,
// input_layernorm, post_attention_layernorm}, model.norm, lm_head): Llama 1-3, Mistral, Qwen2,
// Gemma and Gemma 2. Every difference (GQA, qkv bias, RoPE scaling, sliding windows, Gemma's
// norm offset, embedding scale, sandwich norms and soft-capping) is a field of
// io::DecoderConfig.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "io/decoder_config.hpp"
#include "layers/attention.hpp"
#include "layers/modules.hpp"
#include "models/causal_lm.hpp"
#include "models/encoder_outputs.hpp"

namespace xling::models {

// Root-mean-square norm in float32, scaled by weight (Llama) or 1 + weight (Gemma).
struct RMSNormImpl : torch::nn::Module {
  RMSNormImpl(int64_t d, double eps, bool plus_one);
  torch::Tensor forward(const torch::Tensor& x);  // (..., d) -> (..., d)
  torch::Tensor weight;                            // (d)
  double eps;
  bool plus_one;
};
TORCH_MODULE(RMSNorm);

// Rotary position embedding: inverse frequencies by the config's rope type, and cos/sin for
// given positions. Dynamic NTK scaling recomputes the frequencies when positions grow past
// the cached length, as HF's dynamic_rope_update does.
class Rotary {
 public:
  explicit Rotary(const io::DecoderConfig& c);
  // positions (N, T) int64 -> cos, sin (N, T, R) in `dtype`, R = rotated dims per head
  std::pair<torch::Tensor, torch::Tensor> cos_sin(const torch::Tensor& positions, torch::ScalarType dtype);
  int64_t rotated_dims() const { return dim_; }

 private:
  torch::Tensor inv_freq_for(int64_t seq_len) const;  // (R / 2) float32
  io::RopeConfig rope_;
  int64_t dim_ = 0, max_positions_ = 0;
  double attention_scaling_ = 1.0;
  torch::Tensor inv_freq_, original_inv_freq_;
  int64_t cached_len_ = 0;
};

struct DecoderAttentionImpl : torch::nn::Module {
  DecoderAttentionImpl(const io::DecoderConfig& c, int64_t layer);
  // x: (N, T, D); cos/sin: (N, T, R); bias: (N, 1, T, P + T), or undefined for plain causal
  // attention (then P = 0 or T = 1); cache: P past positions or null -> (N, T, D)
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& bias, layers::KVCache* cache);
  layers::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  int64_t heads, kv_heads, head_dim;
  double scale;
  std::optional<double> softcap;
  double dropout;
};
TORCH_MODULE(DecoderAttention);

struct DecoderMLPImpl : torch::nn::Module {
  explicit DecoderMLPImpl(const io::DecoderConfig& c);
  torch::Tensor forward(const torch::Tensor& x);  // (N, T, D) -> (N, T, D): down(act(gate(x)) * up(x))
  layers::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
  io::Activation act;
};
TORCH_MODULE(DecoderMLP);

struct DecoderLayerImpl : torch::nn::Module {
  DecoderLayerImpl(const io::DecoderConfig& c, int64_t layer);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& bias, layers::KVCache* cache);  // (N, T, D) -> (N, T, D)
  DecoderAttention self_attn{nullptr};
  DecoderMLP mlp{nullptr};
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  RMSNorm pre_feedforward_layernorm{nullptr}, post_feedforward_layernorm{nullptr};  // Gemma 2
  int64_t window;  // 0 or the sliding window of this layer
};
TORCH_MODULE(DecoderLayer);

// model.{embed_tokens, layers, norm}
struct DecoderModelImpl : torch::nn::Module {
  explicit DecoderModelImpl(const io::DecoderConfig& c);
  layers::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RMSNorm norm{nullptr};
};
TORCH_MODULE(DecoderModel);

// *ForCausalLM: the decoder and the LM head (tied to the embeddings when the config says).
struct DecoderForCausalLMImpl : torch::nn::Module, CausalLM {
  explicit DecoderForCausalLMImpl(const io::DecoderConfig& c);
  // Inputs by HF name: input_ids, attention_mask, position_ids, labels (B, S). Outputs:
  // hidden_states.N (0 = embeddings, the last after the final norm), last_hidden_state, logits
  // (B, S, V), loss (1) when labels are given.
  NamedTensors forward(const NamedTensors& inputs);

  CausalState start() const override;
  torch::Tensor step(const torch::Tensor& ids, const torch::Tensor& mask, CausalState& state) override;
  const io::ModelConfig& causal_config() const override { return config; }
  int64_t vocab_size() const override { return config.vocab_size; }
  int quantize_int8() override;
  int prepack_f32() override;

  io::DecoderConfig config;
  DecoderModel model{nullptr};
  layers::Linear lm_head{nullptr};  // untied head; tied: the embeddings (int8_projection when quantized)
  layers::Linear int8_projection{nullptr};

 private:
  // Runs the stack over ids (N, T) at positions (N, T) with the mask of all P + T positions;
  // `hidden` receives the hidden states as HF's output_hidden_states -> (N, T, D) after the norm
  torch::Tensor run(const torch::Tensor& ids, const torch::Tensor& positions, const torch::Tensor& full_mask,
                    CausalState* state, std::vector<torch::Tensor>* hidden);
  torch::Tensor project(const torch::Tensor& h);  // (N, T, D) -> logits (N, T, V), soft-capped when configured
  Rotary rotary_;
};
TORCH_MODULE(DecoderForCausalLM);

std::vector<std::string> decoder_architectures();
// The class for `architecture`, or nullopt when it is not one of this family's.
std::optional<DecoderForCausalLM> make_decoder_model(const io::DecoderConfig& c, const std::string& architecture);

}  // namespace xling::models
