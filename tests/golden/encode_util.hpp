// Torch helpers for the golden tests: texts through the tokenizer, padded to the longest, as
// model input tensors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "tokenize/encoding.hpp"
#include "tokenize/tokenizer.hpp"

namespace xling::testing {

struct PaddedIds {
  torch::Tensor input_ids, attention_mask;  // (N, T) int64
};

// encs: N encodings already padded to one length T (PaddingOptions::enabled) -> (N, T) ids and mask,
// row i = encs[i].
inline PaddedIds padded_ids(const std::vector<tokenize::Encoding>& encs) {
  const auto n = static_cast<int64_t>(encs.size()), t = static_cast<int64_t>(encs[0].size());
  auto ids = torch::empty({n, t}, torch::kLong), mask = torch::empty({n, t}, torch::kLong);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 0; k < t; ++k) {
      ids[i][k] = encs[static_cast<std::size_t>(i)].ids[static_cast<std::size_t>(k)];
      mask[i][k] = encs[static_cast<std::size_t>(i)].attention_mask[static_cast<std::size_t>(k)];
    }
  }
  return {ids, mask};
}

// texts (+ pairs when not null), with special tokens and the tokenizer's padding turned on ->
// (N, T) ids and mask, T the longest encoding.
inline PaddedIds encode_padded(const tokenize::Tokenizer& tok, const std::vector<std::string>& texts,
                               const std::vector<std::string>* pairs = nullptr) {
  tokenize::PaddingOptions pad = tok.default_padding();
  pad.enabled = true;
  return padded_ids(tok.encode_batch(texts, pairs, /*add_special=*/true, {}, pad));
}

}  // namespace xling::testing
