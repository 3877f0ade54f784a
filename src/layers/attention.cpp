// Multi-head attention with a key/value cache (see attention.hpp).
#include "layers/attention.hpp"

#include <limits>

namespace xling::layers {

void KVCache::select_rows(const torch::Tensor& rows) {
  if (empty()) return;
  if (pending.defined()) {
    k = k.index_select(0, pending);
    v = v.index_select(0, pending);
    pending = torch::Tensor();
  }
  k = k.index_select(0, rows);
  v = v.index_select(0, rows);
}

void KVCache::defer_rows(const torch::Tensor& rows) {
  if (empty()) return;
  pending = pending.defined() ? pending.index_select(0, rows) : rows;
}

namespace {

// cache rows (optionally selected by `rows`) followed by `fresh` along the positions:
// (N, H, P, Dh) + (N', H, T, Dh) -> (N', H, P + T, Dh), written once.
torch::Tensor append_positions(const torch::Tensor& cache, const torch::Tensor& rows, const torch::Tensor& fresh) {
  if (!rows.defined()) return torch::cat({cache, fresh}, 2);
  const int64_t p = cache.size(2), t = fresh.size(2);
  auto out = torch::empty({fresh.size(0), cache.size(1), p + t, cache.size(3)}, cache.options());
  auto head = out.narrow(2, 0, p);
  at::index_select_out(head, cache, 0, rows);
  out.narrow(2, p, t).copy_(fresh);
  return out;
}

}  // namespace

MultiHeadAttentionImpl::MultiHeadAttentionImpl(const AttentionOptions& opt)
    : heads(opt.heads), head_dim(opt.head_dim), scale(opt.scale) {
  const int64_t inner = opt.heads * opt.head_dim;
  q = register_module(opt.names.q, Linear(opt.d_model, inner, opt.bias));
  k = register_module(opt.names.k, Linear(opt.d_model, inner, opt.bias));
  v = register_module(opt.names.v, Linear(opt.d_model, inner, opt.bias));
  o = register_module(opt.names.o, Linear(inner, opt.d_model, opt.bias));
}

torch::Tensor MultiHeadAttentionImpl::split_heads(const torch::Tensor& x) const {
  return x.view({x.size(0), x.size(1), heads, head_dim}).transpose(1, 2);
}

torch::Tensor MultiHeadAttentionImpl::attend(const torch::Tensor& qh, const torch::Tensor& kh, const torch::Tensor& vh,
                                             const torch::Tensor& bias) {
  // qh: (N, H, T, Dh), kh/vh: (N, H, S, Dh) -> (N, T, H*Dh)
  std::optional<torch::Tensor> mask;
  if (bias.defined()) mask = bias.to(qh.scalar_type());
  const double p = is_training() ? dropout : 0.0;
  auto out = at::scaled_dot_product_attention(qh, kh, vh, mask, p, /*is_causal=*/false, scale);
  return out.transpose(1, 2).reshape({qh.size(0), qh.size(2), heads * head_dim});
}

torch::Tensor MultiHeadAttentionImpl::self_attention(const torch::Tensor& x, const torch::Tensor& bias, KVCache* cache) {
  auto qh = split_heads(q->forward(x));
  auto kh = split_heads(k->forward(x));
  auto vh = split_heads(v->forward(x));
  if (cache) {
    if (!cache->empty()) {
      kh = append_positions(cache->k, cache->pending, kh);
      vh = append_positions(cache->v, cache->pending, vh);
      cache->pending = torch::Tensor();
    }
    cache->k = kh;
    cache->v = vh;
  }
  return o->forward(attend(qh, kh, vh, bias));
}

torch::Tensor MultiHeadAttentionImpl::cross_attention(const torch::Tensor& x, const torch::Tensor& memory,
                                                      const torch::Tensor& bias, KVCache* cache) {
  if (cache && !cache->empty() && cache->k.size(0) != x.size(0)) {
    // Grouped rows: x holds G = N / I consecutive rows per cached item (beams of one source).
    // They attend as G * T query positions of that item: the same numbers, no copies of K/V.
    const int64_t items = cache->k.size(0), n = x.size(0), t = x.size(1), g = n / items;
    auto qh = q->forward(x).view({items, g, t, heads, head_dim}).permute({0, 3, 1, 2, 4}).reshape({items, heads, g * t, head_dim});
    std::optional<torch::Tensor> mask;
    if (bias.defined()) mask = bias.to(qh.scalar_type());
    const double p = is_training() ? dropout : 0.0;
    auto out = at::scaled_dot_product_attention(qh, cache->k, cache->v, mask, p, /*is_causal=*/false, scale);
    // (I, H, G*T, Dh) -> (I, G, T, H, Dh) -> (N, T, H*Dh)
    out = out.view({items, heads, g, t, head_dim}).permute({0, 2, 3, 1, 4}).reshape({n, t, heads * head_dim});
    return o->forward(out);
  }
  auto qh = split_heads(q->forward(x));
  torch::Tensor kh, vh;
  if (cache && !cache->empty()) {
    kh = cache->k;
    vh = cache->v;
  } else {
    kh = split_heads(k->forward(memory));
    vh = split_heads(v->forward(memory));
    if (cache) {
      cache->k = kh;
      cache->v = vh;
    }
  }
  return o->forward(attend(qh, kh, vh, bias));
}

void MultiHeadAttentionImpl::fill_cross_cache(const torch::Tensor& memory, KVCache& cache) {
  cache.k = split_heads(k->forward(memory));
  cache.v = split_heads(v->forward(memory));
}

torch::Tensor padding_bias(const torch::Tensor& attention_mask, torch::ScalarType dtype) {
  const double lowest = dtype == torch::kFloat64   ? std::numeric_limits<double>::lowest()
                        : dtype == torch::kBFloat16 ? -3.3895313892515355e38
                        : dtype == torch::kFloat16  ? -65504.0
                                                    : static_cast<double>(std::numeric_limits<float>::lowest());
  auto keep = attention_mask.to(torch::kBool).view({attention_mask.size(0), 1, 1, attention_mask.size(1)});
  return torch::zeros(keep.sizes(), attention_mask.options().dtype(dtype)).masked_fill(keep.logical_not(), lowest);
}

torch::Tensor causal_bias(int64_t t, int64_t past, const torch::TensorOptions& options) {
  // query i (absolute past + i) sees keys 0 .. past + i
  auto allowed = torch::ones({t, past + t}, options.dtype(torch::kBool)).tril(past);
  const double lowest = options.dtype() == torch::kFloat64 ? std::numeric_limits<double>::lowest()
                                                           : static_cast<double>(std::numeric_limits<float>::lowest());
  return torch::zeros({1, 1, t, past + t}, options).masked_fill(allowed.logical_not().view({1, 1, t, past + t}), lowest);
}

}  // namespace xling::layers
