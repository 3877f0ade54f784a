// Multi-head attention shared by the encoder-decoder families (self and cross attention, with
// a key/value cache for incremental decoding). Projections are registered under the
// checkpoint's own names (BART: q_proj/k_proj/v_proj/out_proj with biases; T5: q/k/v/o
// without), so state_dict keys equal HF's.
#pragma once

#include <string>

#include <torch/torch.h>

#include "layers/modules.hpp"

namespace xling::layers {

// Keys and values of one attention layer, (N, H, S, Dh) each; undefined while empty.
// Self-attention grows by the new positions every step; cross-attention is filled once from
// the encoder output and reused.
struct KVCache {
  torch::Tensor k, v;
  int64_t length() const { return k.defined() ? k.size(2) : 0; }
  bool empty() const { return !k.defined(); }
  // Keeps rows `rows` (int64 (N')) in that order: beam search reordering, finished rows dropped.
  void select_rows(const torch::Tensor& rows);
  // The same, applied lazily by the next self-attention append, which then writes the selected
  // rows and the new positions into one new buffer (one copy per step instead of two).
  void defer_rows(const torch::Tensor& rows);
  torch::Tensor pending;  // rows to select before the next append, or undefined
};

struct AttentionNames {
  std::string q, k, v, o;
};

struct AttentionOptions {
  int64_t d_model = 0;
  int64_t heads = 0;
  int64_t head_dim = 0;  // inner size = heads * head_dim (T5's d_kv may differ from d_model / heads)
  bool bias = true;
  double scale = 1.0;    // applied to scores: BART head_dim^-0.5, T5 1.0
  AttentionNames names{"q_proj", "k_proj", "v_proj", "out_proj"};
};

struct MultiHeadAttentionImpl : torch::nn::Module {
  explicit MultiHeadAttentionImpl(const AttentionOptions& opt);

  // Self-attention. x: (N, T, D); bias: additive (N|1, H|1, T, P + T) float (padding, causal,
  // position bias) or undefined; cache: the layer's cache holding P past positions, extended by
  // the T new ones (nullptr: no cache, P = 0) -> (N, T, D).
  torch::Tensor self_attention(const torch::Tensor& x, const torch::Tensor& bias, KVCache* cache);
  // Cross-attention over `memory` (N, S, D) with bias (N|1, 1, 1|T, S). With a cache, the keys
  // and values of `memory` are computed on the first call and reused afterwards. A cache with
  // I < N rows serves N / I consecutive rows each (beams of one source; bias then (I, 1, 1, S)).
  torch::Tensor cross_attention(const torch::Tensor& x, const torch::Tensor& memory, const torch::Tensor& bias,
                                KVCache* cache);

  // Fills `cache` with the keys and values of `memory` (N, S, D): cross-attention computed once
  // per source, before beams multiply the rows.
  void fill_cross_cache(const torch::Tensor& memory, KVCache& cache);

  Linear q{nullptr}, k{nullptr}, v{nullptr}, o{nullptr};
  int64_t heads, head_dim;
  double scale;
  double dropout = 0.0;  // attention-probability dropout in training mode

 private:
  torch::Tensor split_heads(const torch::Tensor& x) const;  // (N, T, H*Dh) -> (N, H, T, Dh)
  torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, const torch::Tensor& bias);
};
TORCH_MODULE(MultiHeadAttention);

// Additive float mask from a (N, S) 0/1 attention mask: 0 where 1, the dtype's lowest value
// where 0 -> (N, 1, 1, S). HF uses finfo.min rather than -inf so fully masked rows stay finite.
torch::Tensor padding_bias(const torch::Tensor& attention_mask, torch::ScalarType dtype);
// Causal additive mask for T new positions after P cached ones -> (1, 1, T, P + T).
torch::Tensor causal_bias(int64_t t, int64_t past, const torch::TensorOptions& options);

}  // namespace xling::layers
