// What every decoder-only family offers the generator and the trainer: prefill and
// incremental decoding over left-padded rows with per-layer key/value caches, position ids
// from the attention mask as HF computes them, and the causal-LM loss.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "io/config.hpp"
#include "layers/attention.hpp"
#include "layers/modules.hpp"

namespace xling::models {

// The decoding state of N rows (batch x beams): one cache per layer and the 0/1 mask of every
// position fed so far (left padding is 0), from which positions and biases follow.
struct CausalState {
  std::vector<layers::KVCache> cache;
  torch::Tensor mask;  // (N, P) int64, P = positions in the caches
  static CausalState with_layers(std::size_t layers);  // empty caches, nothing fed
  int64_t past() const { return mask.defined() ? mask.size(1) : 0; }
  // Appends the mask (N, T) of T new positions (moved to `device`) -> the whole mask (N, P + T).
  const torch::Tensor& extend_mask(const torch::Tensor& new_mask, const torch::Device& device);
  // Keeps rows `rows` (int64 (N')): beam reordering or dropping finished rows.
  void select_rows(const torch::Tensor& rows);
};

class CausalLM {
 public:
  virtual ~CausalLM() = default;
  // A fresh state for this model (one empty cache per layer).
  virtual CausalState start() const = 0;
  // Feeds ids (N, T) with their mask (N, T) after the state's P positions; returns the logits of
  // the last new position (N, V) in float32 and advances the state by T.
  virtual torch::Tensor step(const torch::Tensor& ids, const torch::Tensor& mask, CausalState& state) = 0;
  virtual const io::ModelConfig& causal_config() const = 0;
  virtual int64_t vocab_size() const = 0;
  // Opt-in int8 inference on CPU (layers::LinearImpl::quantize_int8); returns the number of
  // quantized matrices.
  virtual int quantize_int8() = 0;
  // Opt-in fp32 with oneDNN-prepacked weights on CPU (layers::LinearImpl::prepack_f32), head
  // included; returns the number of prepacked matrices.
  virtual int prepack_f32() = 0;
};

// HF's position ids: cumsum of the mask - 1, 1 where the mask is 0. mask (N, S) -> (N, S).
torch::Tensor positions_from_mask(const torch::Tensor& mask);

// Additive attention bias for T new positions after P cached ones: causal, padding from the
// mask of all P + T positions (N, P + T), and when `window` > 0 keys limited to the last
// `window` positions (j > i - window, in absolute indices as HF's sliding-window masks).
// -> (N, 1, T, P + T) in `dtype`, the dtype's lowest value where masked.
torch::Tensor causal_attention_bias(const torch::Tensor& mask, int64_t t, int64_t window, torch::ScalarType dtype);

// The inputs of a causal-LM forward pass by HF name: input_ids (required), attention_mask
// (default all ones), position_ids (default from the mask), labels (optional).
struct CausalInputs {
  torch::Tensor input_ids, attention_mask, position_ids, labels;  // (B, S) int64 each
};
CausalInputs causal_inputs(const std::map<std::string, torch::Tensor>& inputs);

// HF's output names of a causal-LM forward pass: hidden_states.N from `hidden` (the last one
// after the final norm, also last_hidden_state), logits (B, S, V), loss when labels are defined.
std::map<std::string, torch::Tensor> causal_lm_outputs(const std::vector<torch::Tensor>& hidden, const torch::Tensor& logits,
                                                       const torch::Tensor& labels);

// CausalLM::quantize_int8 of a family: every Linear under `root` quantized for FBGEMM
// (layers::LinearImpl::quantize_int8) and, for a head tied to `embeddings` (V, D), an int8
// stand-in sharing that weight in `int8_head`. Returns the number of quantized matrices.
// prepack = true: the same with LinearImpl::prepack_f32 (CausalLM::prepack_f32).
int quantize_causal_lm(torch::nn::Module& root, bool tied_head, const torch::Tensor& embeddings, layers::Linear& int8_head,
                       bool prepack = false);

// HF's ForCausalLMLoss: logits (B, S, V) predict labels shifted left by one; -100 ignored;
// mean cross-entropy in float32 -> (1).
torch::Tensor causal_lm_loss(const torch::Tensor& logits, const torch::Tensor& labels);

// `module` as a CausalLM, or nullptr.
CausalLM* as_causal_lm(torch::nn::Module& module);

}  // namespace xling::models
