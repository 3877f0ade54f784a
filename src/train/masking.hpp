// Masked-language-model inputs, as transformers' DataCollatorForLanguageModeling
// (torch_mask_tokens) makes them: positions chosen with probability mlm_probability among the
// tokens that are neither special nor padding; labels keep the original id there and -100
// elsewhere; of the chosen, mask_replace_prob become the mask token, random_replace_prob a random
// id and the rest stay as they are. The draws come from a generator the caller seeds, so that a
// seed reproduces the masks (the statistics and rules are HF's, not its exact random stream).
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "tokenize/tokenizer.hpp"

namespace xling::train {

struct MlmOptions {
  double mlm_probability = 0.15;    // in (0, 1)
  double mask_replace_prob = 0.8;   // of the chosen: -> mask_token_id
  double random_replace_prob = 0.1; // of the chosen: -> a random id in [0, vocab_size); the rest are kept
  // Choose words instead of tokens: each word is chosen with mlm_probability and all its tokens
  // become the mask token (transformers 5 sets mask_replace_prob = 1 for whole words, so the two
  // replacement probabilities are not used).
  bool whole_word_mask = false;
  int64_t mask_token_id = -1;
  int64_t vocab_size = 0;            // len(tokenizer): the model's vocabulary and added tokens
  std::vector<int64_t> special_ids;  // never chosen (padding, by the attention mask, neither)
};

// mask_token_id, vocab_size and special ids of `tok` (defaults for the rest). Throws
// InvalidArgument when the tokenizer has no mask token (tokenizer_config.json "mask_token").
MlmOptions mlm_options(const tokenize::Tokenizer& tok);

struct MlmInputs {
  torch::Tensor input_ids;       // (B, T) int64, padded
  torch::Tensor attention_mask;  // (B, T) integer or bool, 0 = padding
  torch::Tensor word_starts;     // (B, T) bool, whole_word_mask only: see word_starts() below
};

struct MlmBatch {
  torch::Tensor input_ids;  // (B, T) int64: the masked inputs
  torch::Tensor labels;     // (B, T) int64: the original id where chosen, -100 elsewhere
};

// inputs (B, T) -> masked inputs and labels (B, T), on the inputs' device; `gen` must be a
// generator of that device. Throws InvalidArgument for probabilities out of range (mlm_probability
// in (0, 1), the replacement ones in [0, 1] with a sum of at most 1), a missing mask id or
// vocabulary size, and tensors of the wrong shape or type.
MlmBatch mask_tokens(const MlmInputs& inputs, const MlmOptions& options, torch::Generator& gen);

// Which tokens start a word, from the token strings of `tok`'s model (input_ids (B, T) ->
// (B, T) bool): WordPiece tokens do unless they begin with "##"; Unigram/BPE tokens
// (sentencepiece/Metaspace, byte-level) do when they begin with "▁" or "Ġ". The first token
// after a special token (or at the start of a row) always starts a word; special tokens never do.
// A word is its start token and the continuation tokens that follow it.
torch::Tensor word_starts(const torch::Tensor& input_ids, const tokenize::Tokenizer& tok);

}  // namespace xling::train
