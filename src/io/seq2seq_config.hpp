// Typed configs of the encoder-decoder families: the BART family (M2M-100/NLLB/SMaLL-100,
// mBART/mBART-50, Marian/OPUS-MT, BART) and the T5 family (T5, mT5/mT0). Every variant is a
// field parsed here once; model code never looks at model_type.
#pragma once

#include <optional>

#include "io/config.hpp"

namespace xling::io {

// How a family makes decoder_input_ids from labels (HF's shift_tokens_right variants).
enum class DecoderShift {
  kStartToken,  // [decoder_start_token_id, labels[:-1]] (M2M-100, Marian, BART, T5)
  kRotateLast,  // mBART: the last non-pad label (eos or a language code) moves to the front
};

enum class PositionKind {
  kSinusoidalPadded,  // M2M-100/NLLB: fairseq sinusoids, positions from padding_idx + 1, pads -> zero row
  kSinusoidalMarian,  // Marian: sin in the first half, cos in the second, positions 0, 1, 2, ...
  kLearnedOffset2,    // BART/mBART: a learned table read at position + 2
};

// Fields shared by both families that decoding needs.
struct Seq2SeqConfig : ModelConfig {
  int64_t vocab_size = 0;
  int64_t d_model = 0;
  int64_t decoder_start_token_id = 0;
  DecoderShift shift = DecoderShift::kStartToken;
  std::optional<int64_t> forced_bos_token_id;  // config.json's (older checkpoints keep it there)
  std::optional<int64_t> forced_eos_token_id;
  double dropout = 0.0;  // training only
};

struct BartConfig : Seq2SeqConfig {
  int64_t decoder_vocab_size = 0;  // Marian with separate vocabularies; otherwise vocab_size
  int64_t encoder_layers = 0, decoder_layers = 0;
  int64_t encoder_attention_heads = 0, decoder_attention_heads = 0;
  int64_t encoder_ffn_dim = 0, decoder_ffn_dim = 0;
  int64_t max_position_embeddings = 1024;
  Activation activation = Activation::kGelu;
  bool scale_embedding = false;               // token embeddings * sqrt(d_model)
  PositionKind positions = PositionKind::kLearnedOffset2;
  bool layernorm_embedding = false;           // LayerNorm after embeddings + positions (BART, mBART)
  bool pre_norm = false;                      // norm before each sublayer (M2M-100, mBART) or after (BART, Marian)
  bool final_layer_norm = false;              // encoder/decoder end with a LayerNorm (pre-norm models)
  bool final_logits_bias = false;             // registered buffer added to the logits (BART, mBART, Marian)
  bool share_encoder_decoder_embeddings = true;  // Marian can keep two vocabularies
  double attention_dropout = 0.0, activation_dropout = 0.0;  // training only
  double init_std = 0.02;

  int64_t target_vocab_size() const { return decoder_vocab_size; }
  std::vector<std::pair<std::string, std::string>> summary() const override;
};

struct T5Config : Seq2SeqConfig {
  int64_t d_kv = 64;
  int64_t d_ff = 0;
  int64_t num_layers = 0, num_decoder_layers = 0, num_heads = 0;
  int64_t relative_attention_num_buckets = 32;
  int64_t relative_attention_max_distance = 128;
  bool gated_act = false;              // feed_forward_proj "gated-gelu": wo(act(wi_0 x) * wi_1 x)
  Activation dense_act = Activation::kRelu;
  double layer_norm_epsilon = 1e-6;
  // Original T5 rescales the decoder output by d_model^-0.5 before the (tied) lm_head; T5 v1.1
  // (config tie_word_embeddings false) and mT5 do not (transformers 5 rules).
  bool scale_decoder_outputs = false;
  double initializer_factor = 1.0;

  std::vector<std::pair<std::string, std::string>> summary() const override;
};

// Registers m2m_100, mbart, marian, bart (BART family) and t5, mt5 (T5 family).
void register_seq2seq_configs(ConfigRegistry& registry);

}  // namespace xling::io
