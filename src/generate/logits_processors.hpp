// HF's logits processors and warpers, applied in HF's order: repetition penalty, no-repeat
// n-grams, bad words, min length, min new tokens, forced BOS, forced EOS, suppressed tokens;
// then, when sampling, temperature, top-k, top-p and min-p.
#pragma once

#include <torch/torch.h>

#include "generate/options.hpp"

namespace xling::generate {

// scores: (N, V) float32 for the next position; sequences: (N, L) int64, each row's tokens so
// far (prompt included), L = the current length. Returns the processed scores (may alias).
torch::Tensor process_logits(const torch::Tensor& sequences, torch::Tensor scores, const GenerationOptions& o);

// The sampling warpers (temperature, top-k, top-p, min-p) on processed scores (N, V).
// `min_tokens_to_keep`: 1 for sampling, eos count + 1 for beam sampling (as HF).
torch::Tensor warp_logits(torch::Tensor scores, const GenerationOptions& o, int64_t min_tokens_to_keep);

}  // namespace xling::generate
