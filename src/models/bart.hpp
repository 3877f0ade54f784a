// The BART family as libtorch modules whose state_dict keys are HF's: M2M-100 / NLLB /
// SMaLL-100 (sinusoidal positions from padding_idx + 1, pre-norm), mBART / mBART-50 (learned
// positions at offset 2, layernorm_embedding, pre-norm), Marian / OPUS-MT (Marian sinusoids,
// post-norm, final_logits_bias, shared or separate vocabularies) and BART (learned, post-norm).
// Every difference is a field of io::BartConfig.
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

struct BartLayerImpl : torch::nn::Module {
  BartLayerImpl(const io::BartConfig& c, bool decoder);
  // x: (N, T, D); self_bias: (N|1, 1, T, P + T) or undefined; memory: (N, S, D) for decoder
  // layers with memory_bias (N, 1, 1, S); caches may be null -> (N, T, D)
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& self_bias, const torch::Tensor& memory,
                        const torch::Tensor& memory_bias, layers::KVCache* self_cache, layers::KVCache* cross_cache);
  layers::MultiHeadAttention self_attn{nullptr}, encoder_attn{nullptr};
  layers::LayerNorm self_attn_layer_norm{nullptr}, encoder_attn_layer_norm{nullptr}, final_layer_norm{nullptr};
  layers::Linear fc1{nullptr}, fc2{nullptr};
  bool pre_norm;
  io::Activation act;
  double dropout, activation_dropout;
};
TORCH_MODULE(BartLayer);

// Encoder or decoder stack: token + position embeddings, layers, optional final LayerNorm.
struct BartStackImpl : torch::nn::Module {
  BartStackImpl(const io::BartConfig& c, bool decoder, layers::Embedding shared);
  // ids: (N, T) int64, past: positions already decoded -> (N, T, D) after positions,
  // layernorm_embedding and dropout
  torch::Tensor embed(const torch::Tensor& ids, int64_t past);
  // Runs every layer; `hidden` (when not null) receives the input of each layer and the final
  // output (after the final LayerNorm), as HF's output_hidden_states -> (N, T, D)
  torch::Tensor run(torch::Tensor x, const torch::Tensor& self_bias, const torch::Tensor& memory,
                    const torch::Tensor& memory_bias, DecoderState* state, std::vector<torch::Tensor>* hidden);

  io::BartConfig config;
  bool decoder;
  double embed_scale;
  layers::Embedding embed_tokens{nullptr};     // shared with the model unless vocabularies are separate
  layers::Embedding embed_positions{nullptr};  // learned positions only
  layers::LayerNorm layernorm_embedding{nullptr}, layer_norm{nullptr};
  torch::nn::ModuleList layers{nullptr};

 private:
  torch::Tensor sinusoids(int64_t rows, const torch::TensorOptions& options);  // (rows, D), grown on demand
  torch::Tensor sinusoid_table_;
};
TORCH_MODULE(BartStack);

// model.{shared, encoder, decoder}
struct BartCoreImpl : torch::nn::Module {
  explicit BartCoreImpl(const io::BartConfig& c);
  layers::Embedding shared{nullptr};
  BartStack encoder{nullptr}, decoder{nullptr};
};
TORCH_MODULE(BartCore);

// *ForConditionalGeneration / MarianMTModel: the core plus the LM head (tied to the decoder's
// token embeddings unless tie_word_embeddings is false) and final_logits_bias.
struct BartForConditionalGenerationImpl : torch::nn::Module, Seq2SeqModel {
  explicit BartForConditionalGenerationImpl(const io::BartConfig& c);
  // Inputs by HF name: input_ids, attention_mask (B, S); labels (B, T) or decoder_input_ids.
  // Outputs: encoder_hidden_states.N, encoder_last_hidden_state, decoder_hidden_states.N,
  // logits (B, T, V), loss (1) when labels are given.
  NamedTensors forward(const NamedTensors& inputs);

  torch::Tensor encode(const torch::Tensor& input_ids, const torch::Tensor& attention_mask) override;
  DecoderState start_decoding(const torch::Tensor& memory, const torch::Tensor& attention_mask) override;
  torch::Tensor decode_step(const torch::Tensor& ids, DecoderState& state) override;
  const io::Seq2SeqConfig& seq2seq_config() const override { return config; }
  int quantize_int8() override;

  torch::Tensor logits(const torch::Tensor& h);  // (N, T, D) -> (N, T, V)
  torch::Tensor output_weight() const;           // (V, D): lm_head or the tied decoder embeddings

  io::BartConfig config;
  BartCore model{nullptr};
  torch::Tensor final_logits_bias;  // (1, V), a non-trained parameter when the family has it
  layers::Linear lm_head{nullptr};  // only when tie_word_embeddings is false
  layers::Linear int8_projection{nullptr};  // int8 mode with tied embeddings: their quantized copy (unregistered)
};
TORCH_MODULE(BartForConditionalGeneration);

std::vector<std::string> bart_architectures();
std::optional<BartForConditionalGeneration> make_bart_model(const io::BartConfig& c, const std::string& architecture);
// Checkpoint names that alias the shared embeddings (older saves store every alias).
std::vector<std::string> bart_tied_aliases(const io::BartConfig& c);

}  // namespace xling::models
