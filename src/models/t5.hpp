// The T5 family (T5, T5 v1.1, mT5/mT0) as libtorch modules whose state_dict keys are HF's:
// relative position buckets (computed by the first block, shared by all), RMS norm without
// bias or mean, unscaled attention, gated-GELU or plain feed-forward, and MT5EncoderModel for
// embeddings. Which embeddings are tied depends on the checkpoint (T5Layout).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "io/seq2seq_config.hpp"
#include "layers/attention.hpp"
#include "layers/modules.hpp"
#include "models/encoder_outputs.hpp"
#include "models/seq2seq.hpp"

namespace xling::models {

// transformers 5 ties encoder.embed_tokens, decoder.embed_tokens and lm_head to `shared`
// unless the checkpoint stores them separately; real mT5 checkpoints keep their own lm_head.
struct T5Layout {
  bool own_encoder_embed = false, own_decoder_embed = false, own_lm_head = false;
};

// T5LayerNorm: weight * x / sqrt(mean(x^2) + eps), statistics in float32.
struct T5RMSNormImpl : torch::nn::Module {
  T5RMSNormImpl(int64_t d, double eps);
  torch::Tensor forward(const torch::Tensor& x);  // (..., d) -> (..., d)
  torch::Tensor weight;
  double eps;
};
TORCH_MODULE(T5RMSNorm);

struct T5FeedForwardImpl : torch::nn::Module {
  explicit T5FeedForwardImpl(const io::T5Config& c);
  torch::Tensor forward(const torch::Tensor& x);  // (N, T, D) -> (N, T, D)
  layers::Linear wi{nullptr}, wi_0{nullptr}, wi_1{nullptr}, wo{nullptr};
  io::Activation act;
  double dropout;
};
TORCH_MODULE(T5FeedForward);

struct T5BlockImpl : torch::nn::Module {
  T5BlockImpl(const io::T5Config& c, bool decoder, bool has_relative_bias);
  // x: (N, T, D); self_bias: (N|1, H, T, P + T) incl. position bias; memory/memory_bias for
  // decoder blocks; caches may be null -> (N, T, D)
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& self_bias, const torch::Tensor& memory,
                        const torch::Tensor& memory_bias, layers::KVCache* self_cache, layers::KVCache* cross_cache);
  layers::MultiHeadAttention self_attention{nullptr}, cross_attention{nullptr};
  layers::Embedding relative_attention_bias{nullptr};  // block 0 only: (buckets, H)
  T5RMSNorm self_norm{nullptr}, cross_norm{nullptr}, ff_norm{nullptr};
  T5FeedForward ff{nullptr};
  double dropout;
};
TORCH_MODULE(T5Block);

struct T5StackImpl : torch::nn::Module {
  T5StackImpl(const io::T5Config& c, bool decoder, layers::Embedding embed);
  // HF's relative position bias for T queries after P past positions over P + T keys
  // -> (1, H, T, P + T)
  torch::Tensor position_bias(int64_t t, int64_t past, const torch::Device& device, torch::ScalarType dtype);
  // x: embeddings (N, T, D); `hidden` receives each block's input and the final output
  torch::Tensor run(torch::Tensor x, const torch::Tensor& self_bias, const torch::Tensor& memory,
                    const torch::Tensor& memory_bias, DecoderState* state, std::vector<torch::Tensor>* hidden);
  io::T5Config config;
  bool decoder;
  layers::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList block{nullptr};
  T5RMSNorm final_layer_norm{nullptr};
};
TORCH_MODULE(T5Stack);

// MT5ForConditionalGeneration / T5ForConditionalGeneration, or the encoder alone
// (MT5EncoderModel / T5EncoderModel: outputs hidden_states.N and last_hidden_state).
struct T5ModelImpl : torch::nn::Module, Seq2SeqModel {
  T5ModelImpl(const io::T5Config& c, bool encoder_only, const T5Layout& layout);
  NamedTensors forward(const NamedTensors& inputs);

  torch::Tensor encode(const torch::Tensor& input_ids, const torch::Tensor& attention_mask) override;
  DecoderState start_decoding(const torch::Tensor& memory, const torch::Tensor& attention_mask) override;
  torch::Tensor decode_step(const torch::Tensor& ids, DecoderState& state) override;
  const io::Seq2SeqConfig& seq2seq_config() const override { return config; }
  int quantize_int8() override;
  torch::Tensor logits(const torch::Tensor& h);  // (N, T, D) -> (N, T, V)

  io::T5Config config;
  bool encoder_only;
  layers::Embedding shared{nullptr};
  T5Stack encoder{nullptr}, decoder{nullptr};
  layers::Linear lm_head{nullptr};  // own weights, or null: logits from `shared`
  layers::Linear int8_projection{nullptr};  // int8 mode with a tied lm_head: quantized `shared` (unregistered)
};
TORCH_MODULE(T5Model);

std::vector<std::string> t5_architectures();
bool t5_is_encoder_only(const std::string& architecture);
// The class `architecture` with embeddings tied as `layout` says; nullopt when not a T5 class.
std::optional<T5Model> make_t5_model(const io::T5Config& c, const std::string& architecture, const T5Layout& layout);

}  // namespace xling::models
