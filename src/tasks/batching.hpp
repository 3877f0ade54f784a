// Length-sorted, token-budget batching of tokenized texts: sequences are sorted longest
// first and packed so that a batch's padded size (count x longest) stays within the budget,
// which keeps padding low. Each batch remembers which inputs its rows came from.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include <torch/torch.h>

#include "tokenize/encoding.hpp"

namespace xling::tasks {

struct Batch {
  torch::Tensor input_ids, attention_mask, token_type_ids;  // (B, T) int64
  std::vector<std::size_t> rows;                            // input index of each row
};

struct BatchStats {
  std::size_t tokens = 0, padded_tokens = 0;
};

// Calls `fn` for every batch; pads with `pad_id` on the right.
void for_each_batch(const std::vector<tokenize::Encoding>& encs, std::size_t batch_tokens, int64_t pad_id,
                    const std::function<void(const Batch&)>& fn, BatchStats* stats = nullptr);

}  // namespace xling::tasks
