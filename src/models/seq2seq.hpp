// What every encoder-decoder family offers the generator and the trainer: encode once, then
// decode step by step with cached keys/values, plus HF's label shifting for teacher forcing.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "io/seq2seq_config.hpp"
#include "layers/attention.hpp"

namespace xling::models {

// The decoder's state during generation: one self-attention and one cross-attention cache per
// decoder layer, the encoder output and its padding bias. Rows are hypotheses (batch x beams).
struct DecoderState {
  std::vector<layers::KVCache> self_cache, cross_cache;
  torch::Tensor memory;       // encoder output (N, S, D); released once the cross caches hold it
  torch::Tensor memory_bias;  // (N, 1, 1, S) additive padding bias
  int64_t past = 0;           // decoder positions already in the self-attention caches
  // Rows of the cross caches and memory_bias are source items; each serves `rows_per_item`
  // consecutive decoder rows (the beams of one source), which share the same encoder keys and
  // values: beam reordering never copies them.
  int64_t rows_per_item = 1;

  // Keeps rows `rows` (int64 (N')): beam reordering or dropping finished rows.
  void select_rows(const torch::Tensor& rows);
};

class Seq2SeqModel {
 public:
  virtual ~Seq2SeqModel() = default;
  // input_ids, attention_mask: (N, S) int64 -> encoder output (N, S, D)
  virtual torch::Tensor encode(const torch::Tensor& input_ids, const torch::Tensor& attention_mask) = 0;
  // A fresh state over an encoder output (N, S, D) and its mask (N, S), with the cross-attention
  // keys/values of every decoder layer already computed (once per source row, not per beam).
  virtual DecoderState start_decoding(const torch::Tensor& memory, const torch::Tensor& attention_mask) = 0;
  // Feeds T new decoder tokens ids (N, T) after state.past cached ones; returns the logits of
  // the last new position (N, V) in float32 and advances the state by T.
  virtual torch::Tensor decode_step(const torch::Tensor& ids, DecoderState& state) = 0;
  virtual const io::Seq2SeqConfig& seq2seq_config() const = 0;
  // Opt-in int8 inference on CPU: every Linear and the (tied) output projection quantized
  // (layers::LinearImpl::quantize_int8). Returns the number of quantized matrices.
  virtual int quantize_int8() = 0;
};

// labels (B, T) with -100 for ignored positions -> decoder_input_ids (B, T) as the family's HF
// class makes them (-100 -> pad first; then start token in front, or mBART's rotation).
torch::Tensor shift_labels_right(const torch::Tensor& labels, const io::Seq2SeqConfig& config);

// The inputs of a seq2seq forward pass by HF name: input_ids (required), attention_mask
// (default all ones), labels, decoder_input_ids (default: labels shifted right; required
// unless `encoder_only`). Throws InvalidArgument naming what is missing.
struct Seq2SeqInputs {
  torch::Tensor input_ids, attention_mask, labels, decoder_input_ids;  // (B, S), (B, S), (B, T), (B, T) int64
};
Seq2SeqInputs seq2seq_inputs(const std::map<std::string, torch::Tensor>& inputs, const io::Seq2SeqConfig& config,
                             bool encoder_only = false);
// HF's loss of the generation classes: mean cross-entropy over labels != -100 -> (1)
torch::Tensor seq2seq_loss(const torch::Tensor& logits, const torch::Tensor& labels);

// `module` as a Seq2SeqModel, or nullptr.
Seq2SeqModel* as_seq2seq(torch::nn::Module& module);

}  // namespace xling::models
