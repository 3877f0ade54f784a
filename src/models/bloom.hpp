// BLOOM / BLOOMZ as libtorch modules whose state_dict keys are HF's (transformer.
// {word_embeddings, word_embeddings_layernorm, h.N.{input_layernorm, self_attention.
// {query_key_value, dense}, post_attention_layernorm, mlp.{dense_h_to_4h, dense_4h_to_h}},
// ln_f}, lm_head tied to the embeddings): ALiBi biases from the attention mask, the fused
// query_key_value laid out as (heads, 3, head_dim), BLOOM's tanh GELU.
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

// ALiBi slopes of `heads` heads as HF's build_alibi_tensor makes them -> (H) float32.
torch::Tensor alibi_slopes(int64_t heads);

struct BloomBlockImpl : torch::nn::Module {
  explicit BloomBlockImpl(const io::BloomConfig& c);
  // x: (N, T, D); alibi: (N, H, 1, P + T) float32; bias: (N, 1, T, P + T); cache or null
  // -> (N, T, D)
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& alibi, const torch::Tensor& bias,
                        layers::KVCache* cache);
  layers::LayerNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  layers::Linear query_key_value{nullptr}, dense{nullptr};  // self_attention.*
  layers::Linear dense_h_to_4h{nullptr}, dense_4h_to_h{nullptr};  // mlp.*
  int64_t heads, head_dim;
  bool residual_post_layernorm;
  double attention_dropout, hidden_dropout;

 private:
  torch::Tensor attention(const torch::Tensor& x, const torch::Tensor& alibi, const torch::Tensor& bias,
                          layers::KVCache* cache);  // (N, T, D) -> (N, T, D) before the dense projection
};
TORCH_MODULE(BloomBlock);

// transformer.{word_embeddings, word_embeddings_layernorm, h, ln_f}
struct BloomModelImpl : torch::nn::Module {
  explicit BloomModelImpl(const io::BloomConfig& c);
  layers::Embedding word_embeddings{nullptr};
  layers::LayerNorm word_embeddings_layernorm{nullptr}, ln_f{nullptr};
  torch::nn::ModuleList h{nullptr};
};
TORCH_MODULE(BloomModel);

struct BloomForCausalLMImpl : torch::nn::Module, CausalLM {
  explicit BloomForCausalLMImpl(const io::BloomConfig& c);
  // Inputs by HF name: input_ids, attention_mask, labels (B, S). Outputs: hidden_states.N (the
  // last after ln_f), last_hidden_state, logits (B, S, V), loss (1) with labels.
  NamedTensors forward(const NamedTensors& inputs);

  CausalState start() const override;
  torch::Tensor step(const torch::Tensor& ids, const torch::Tensor& mask, CausalState& state) override;
  const io::ModelConfig& causal_config() const override { return config; }
  int64_t vocab_size() const override { return config.vocab_size; }
  int quantize_int8() override;
  int prepack_f32() override;

  io::BloomConfig config;
  BloomModel transformer{nullptr};
  layers::Linear lm_head{nullptr};  // only when the config unties it
  layers::Linear int8_projection{nullptr};

 private:
  torch::Tensor run(const torch::Tensor& ids, const torch::Tensor& full_mask, CausalState* state,
                    std::vector<torch::Tensor>* hidden);  // ids (N, T) -> (N, T, D) after ln_f
  torch::Tensor project(const torch::Tensor& h);
  torch::Tensor slopes_;  // (H)
};
TORCH_MODULE(BloomForCausalLM);

std::vector<std::string> bloom_architectures();
std::optional<BloomForCausalLM> make_bloom_model(const io::BloomConfig& c, const std::string& architecture);

}  // namespace xling::models
