// BLOOM (see bloom.hpp), following transformers 5's BloomModel operation by operation.
#include "models/bloom.hpp"

#include <cmath>

#include <fmt/format.h>

#include "xling/errors.hpp"

namespace xling::models {

torch::Tensor alibi_slopes(int64_t heads) {
  const int64_t closest = int64_t{1} << static_cast<int>(std::floor(std::log2(static_cast<double>(heads))));
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
  auto base = torch::tensor(std::pow(2.0, -std::pow(2.0, -(std::log2(static_cast<double>(closest)) - 3))), f32);
  auto slopes = torch::pow(base, torch::arange(1, 1 + closest, torch::TensorOptions().dtype(torch::kInt)));
  if (closest != heads) {
    auto extra_base = torch::tensor(std::pow(2.0, -std::pow(2.0, -(std::log2(static_cast<double>(2 * closest)) - 3))), f32);
    const int64_t remaining = std::min(closest, heads - closest);
    auto extra = torch::pow(extra_base, torch::arange(1, 1 + 2 * remaining, 2, torch::TensorOptions().dtype(torch::kInt)));
    slopes = torch::cat({slopes, extra});
  }
  return slopes.to(torch::kFloat32);
}

namespace {

// BLOOM's own tanh GELU (its constant differs from torch's in the last digits).
torch::Tensor bloom_gelu(const torch::Tensor& x) {
  return x * 0.5 * (1.0 + torch::tanh(0.79788456 * x * (1 + 0.044715 * x * x)));
}

}  // namespace

BloomBlockImpl::BloomBlockImpl(const io::BloomConfig& c)
    : heads(c.n_head), head_dim(c.hidden_size / c.n_head),
      residual_post_layernorm(c.apply_residual_connection_post_layernorm), attention_dropout(c.attention_dropout),
      hidden_dropout(c.hidden_dropout) {
  const int64_t d = c.hidden_size;
  input_layernorm = register_module("input_layernorm", layers::LayerNorm(d, c.layer_norm_epsilon));
  auto attn = register_module("self_attention", std::make_shared<torch::nn::Module>());
  query_key_value = attn->register_module("query_key_value", layers::Linear(d, 3 * d, true));
  dense = attn->register_module("dense", layers::Linear(d, d, true));
  post_attention_layernorm = register_module("post_attention_layernorm", layers::LayerNorm(d, c.layer_norm_epsilon));
  auto mlp = register_module("mlp", std::make_shared<torch::nn::Module>());
  dense_h_to_4h = mlp->register_module("dense_h_to_4h", layers::Linear(d, 4 * d, true));
  dense_4h_to_h = mlp->register_module("dense_4h_to_h", layers::Linear(4 * d, d, true));
}

torch::Tensor BloomBlockImpl::attention(const torch::Tensor& x, const torch::Tensor& alibi, const torch::Tensor& bias,
                                        layers::KVCache* cache) {
  const int64_t n = x.size(0), t = x.size(1);
  auto fused = query_key_value->forward(x).view({n, t, heads, 3, head_dim});
  auto q = fused.select(3, 0).transpose(1, 2);  // (N, H, T, Dh)
  auto k = fused.select(3, 1).transpose(1, 2);
  auto v = fused.select(3, 2).transpose(1, 2);
  if (cache) {
    if (!cache->empty()) {
      k = torch::cat({cache->k, k}, 2);
      v = torch::cat({cache->v, v}, 2);
    }
    cache->k = k;
    cache->v = v;
  }
  // scores = alibi + q k^T / sqrt(Dh), as HF's baddbmm
  auto scores = torch::matmul(q, k.transpose(2, 3)) * (1.0 / std::sqrt(static_cast<double>(head_dim))) +
                alibi.to(q.scalar_type());
  scores = scores + bias.to(scores.scalar_type());
  auto probs = torch::softmax(scores, -1, torch::kFloat32).to(q.scalar_type());
  if (is_training() && attention_dropout > 0) probs = torch::dropout(probs, attention_dropout, true);
  return torch::matmul(probs, v).transpose(1, 2).reshape({n, t, heads * head_dim});
}

torch::Tensor BloomBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& alibi, const torch::Tensor& bias,
                                      layers::KVCache* cache) {
  auto ln = input_layernorm->forward(x);
  auto residual = residual_post_layernorm ? ln : x;
  auto attn = dense->forward(attention(ln, alibi, bias, cache));
  if (is_training() && hidden_dropout > 0) attn = torch::dropout(attn, hidden_dropout, true);
  attn = attn + residual;
  ln = post_attention_layernorm->forward(attn);
  residual = residual_post_layernorm ? ln : attn;
  auto out = dense_4h_to_h->forward(bloom_gelu(dense_h_to_4h->forward(ln)));
  if (is_training() && hidden_dropout > 0) out = torch::dropout(out, hidden_dropout, true);
  return out + residual;
}

BloomModelImpl::BloomModelImpl(const io::BloomConfig& c) {
  word_embeddings = register_module("word_embeddings", layers::Embedding(c.vocab_size, c.hidden_size));
  word_embeddings_layernorm = register_module("word_embeddings_layernorm", layers::LayerNorm(c.hidden_size, c.layer_norm_epsilon));
  h = register_module("h", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.n_layer; ++i) h->push_back(BloomBlock(c));
  ln_f = register_module("ln_f", layers::LayerNorm(c.hidden_size, c.layer_norm_epsilon));
}

BloomForCausalLMImpl::BloomForCausalLMImpl(const io::BloomConfig& c) : config(c), slopes_(alibi_slopes(c.n_head)) {
  transformer = register_module("transformer", BloomModel(c));
  if (!c.tie_word_embeddings) lm_head = register_module("lm_head", layers::Linear(c.hidden_size, c.vocab_size, false));
}

torch::Tensor BloomForCausalLMImpl::run(const torch::Tensor& ids, const torch::Tensor& full_mask, CausalState* state,
                                        std::vector<torch::Tensor>* hidden) {
  auto x = transformer->word_embeddings_layernorm->forward(transformer->word_embeddings->forward(ids));
  const int64_t t = ids.size(1);
  // ALiBi over key positions: (cumsum(mask) - 1) * mask, per head slope -> (N, H, 1, P + T)
  auto mask = full_mask.to(torch::kLong);
  auto key_pos = ((mask.cumsum(-1) - 1) * mask).to(torch::kFloat32);
  auto alibi = (slopes_.to(ids.device()).view({1, -1, 1}) * key_pos.unsqueeze(1)).unsqueeze(2);
  auto bias = causal_attention_bias(full_mask, t, 0, x.scalar_type());
  for (std::size_t i = 0; i < transformer->h->size(); ++i) {
    if (hidden) hidden->push_back(x);
    x = transformer->h[i]->as<BloomBlockImpl>()->forward(x, alibi, bias, state ? &state->cache[i] : nullptr);
  }
  x = transformer->ln_f->forward(x);
  if (hidden) hidden->push_back(x);
  return x;
}

torch::Tensor BloomForCausalLMImpl::project(const torch::Tensor& h) {
  if (lm_head) return lm_head->forward(h);
  if (int8_projection) return int8_projection->forward(h);
  return torch::nn::functional::linear(h, transformer->word_embeddings->weight);
}

NamedTensors BloomForCausalLMImpl::forward(const NamedTensors& inputs) {
  auto in = causal_inputs(inputs);
  const auto dev = transformer->word_embeddings->weight.device();
  std::vector<torch::Tensor> hidden;
  auto last = run(in.input_ids.to(dev), in.attention_mask.to(dev), nullptr, &hidden);
  return causal_lm_outputs(hidden, project(last), in.labels);
}

CausalState BloomForCausalLMImpl::start() const { return CausalState::with_layers(transformer->h->size()); }

torch::Tensor BloomForCausalLMImpl::step(const torch::Tensor& ids, const torch::Tensor& mask, CausalState& state) {
  const auto dev = transformer->word_embeddings->weight.device();
  const auto& full = state.extend_mask(mask, dev);
  const int64_t t = ids.size(1);
  auto h = run(ids.to(dev), full, &state, nullptr);
  return project(h.narrow(1, t - 1, 1).squeeze(1)).to(torch::kFloat32);
}

int BloomForCausalLMImpl::quantize_int8() {
  return quantize_causal_lm(*this, !lm_head, transformer->word_embeddings->weight, int8_projection);
}

int BloomForCausalLMImpl::prepack_f32() {
  return quantize_causal_lm(*this, !lm_head, transformer->word_embeddings->weight, int8_projection, /*prepack=*/true);
}

std::vector<std::string> bloom_architectures() { return {"BloomForCausalLM"}; }

std::optional<BloomForCausalLM> make_bloom_model(const io::BloomConfig& c, const std::string& architecture) {
  if (architecture != "BloomForCausalLM") return std::nullopt;
  return BloomForCausalLM(c);
}

}  // namespace xling::models
