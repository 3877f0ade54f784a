// Length-sorted, token-budget batching of tokenized texts: sequences are sorted longest
// first and packed so that a batch's padded size (count x longest) stays within the budget,
// which keeps padding low. Each batch remembers which inputs its rows came from.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include <torch/torch.h>

#include "io/config.hpp"
#include "tokenize/encoding.hpp"
#include "tokenize/tokenizer.hpp"

namespace xling::tasks {

struct Batch {
  torch::Tensor input_ids, attention_mask, token_type_ids;  // (B, T) int64
  std::vector<std::size_t> rows;                            // input index of each row
};

struct BatchStats {
  std::size_t tokens = 0, padded_tokens = 0;
};

// Most tokens the model accepts: max_position_embeddings, less padding_idx + 1 for
// RoBERTa-style position ids; `fallback` for configs without positions.
std::size_t max_input_tokens(const io::ModelConfig& config, std::size_t fallback);

// Encodes `text` (and `pair`, when not null) with special tokens; longer than `max_len`, it is
// truncated as HF does (specials kept) and `*truncated` is incremented. `*full_length` (when
// not null) gets the length before truncation.
tokenize::Encoding encode_truncated(const tokenize::Tokenizer& tok, const std::string& text, const std::string* pair,
                                    std::size_t max_len, std::size_t* truncated, std::size_t* full_length = nullptr);

// The token budget to use: `requested`, or when it is 0 the default of the device: 1024 on
// CPU (small batches stay in cache: measured fastest at 512-1024 on 2 cores) and 16384 on CUDA
// (large batches keep the GPU busy).
std::size_t resolve_batch_tokens(std::size_t requested, const torch::Device& device);

// How a set of inputs is cut into forward passes. `lengths` sorted longest first -> the end
// index of each pass. A pass holds at most `batch_tokens` padded tokens (one input at least);
// the cut minimises padded tokens + `pass_cost` per pass (dynamic programming, O(N x rows per
// pass)). Greedy filling of the budget pads a small mixed batch badly: 38 random catalog
// sentences padded 44 % that way, 7 % with a pass cost of 32.
std::vector<std::size_t> plan_passes(const std::vector<std::size_t>& lengths, std::size_t batch_tokens,
                                     std::size_t pass_cost);
// The fixed cost of one forward pass in tokens: measured on CPU (xling-mini, 2 threads) as
// ~0.8 ms of dispatch against ~23 us per token; on CUDA a launch-bound pass costs thousands.
std::size_t pass_cost_tokens(const torch::Device& device);

// Calls `fn` for every batch (inputs sorted by length, cut by plan_passes with the device's
// pass cost); pads with `pad_id` on the right.
void for_each_batch(const std::vector<tokenize::Encoding>& encs, std::size_t batch_tokens, int64_t pad_id,
                    const std::function<void(const Batch&)>& fn, BatchStats* stats, std::size_t pass_cost);

}  // namespace xling::tasks
