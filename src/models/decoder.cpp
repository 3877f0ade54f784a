// The Llama family (see decoder.hpp). Follows transformers 5's LlamaModel / MistralModel /
// Qwen2Model / GemmaModel / Gemma2Model: the same operations in the same dtypes, so fp32
// outputs equal HF's to rounding.
#include "models/decoder.hpp"

#include <cmath>
#include <numbers>

#include <fmt/format.h>

#include "xling/errors.hpp"

namespace xling::models {

RMSNormImpl::RMSNormImpl(int64_t d, double e, bool p1) : eps(e), plus_one(p1) {
  weight = register_parameter("weight", p1 ? torch::zeros({d}) : torch::ones({d}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  auto h = x.to(torch::kFloat32);
  h = h * torch::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + eps);
  if (plus_one) return (h * (1.0 + weight.to(torch::kFloat32))).to(x.scalar_type());  // Gemma: scale in float32
  return weight * h.to(x.scalar_type());                                               // Llama: cast, then scale
}

// ---------------------------------------------------------------------------------------
// Rotary embeddings (HF's ROPE_INIT_FUNCTIONS)

Rotary::Rotary(const io::DecoderConfig& c) : rope_(c.rope), max_positions_(c.max_position_embeddings) {
  dim_ = static_cast<int64_t>(static_cast<double>(c.head_dim) * rope_.partial_rotary_factor);
  if (rope_.type == io::RopeType::kYarn) {
    auto mscale = [](double scale, double m) { return scale <= 1 ? 1.0 : 0.1 * m * std::log(scale) + 1.0; };
    if (rope_.attention_factor) {
      attention_scaling_ = *rope_.attention_factor;
    } else if (rope_.mscale && rope_.mscale_all_dim) {
      attention_scaling_ = mscale(rope_.factor, *rope_.mscale) / mscale(rope_.factor, *rope_.mscale_all_dim);
    } else {
      attention_scaling_ = mscale(rope_.factor, 1.0);
    }
  }
  cached_len_ = rope_.original_max_position_embeddings;
  inv_freq_ = inv_freq_for(cached_len_);
  original_inv_freq_ = inv_freq_;
}

torch::Tensor Rotary::inv_freq_for(int64_t seq_len) const {
  auto exponents = torch::arange(0, dim_, 2, torch::TensorOptions().dtype(torch::kLong)).to(torch::kFloat32) /
                   static_cast<float>(dim_);  // HF: arange(0, dim, 2, int64).float() / dim
  auto inv = [&](double base) { return 1.0 / torch::pow(base, exponents); };  // HF: 1 / base ** exponents
  switch (rope_.type) {
    case io::RopeType::kDefault:
      return inv(rope_.theta);
    case io::RopeType::kLinear:
      return inv(rope_.theta) / rope_.factor;
    case io::RopeType::kDynamic: {
      const double max_pos = static_cast<double>(rope_.original_max_position_embeddings);
      const double len = std::max(static_cast<double>(seq_len), max_pos);
      const double base = rope_.theta * std::pow(rope_.factor * len / max_pos - (rope_.factor - 1.0),
                                                 static_cast<double>(dim_) / static_cast<double>(dim_ - 2));
      return inv(base);
    }
    case io::RopeType::kLlama3: {
      auto freq = inv(rope_.theta);
      const double old_len = static_cast<double>(rope_.original_max_position_embeddings);
      const double low_wavelen = old_len / rope_.low_freq_factor, high_wavelen = old_len / rope_.high_freq_factor;
      auto wavelen = 2.0 * std::numbers::pi / freq;
      auto scaled = torch::where(wavelen > low_wavelen, freq / rope_.factor, freq);
      auto smooth = (old_len / wavelen - rope_.low_freq_factor) / (rope_.high_freq_factor - rope_.low_freq_factor);
      auto smoothed = (1 - smooth) * scaled / rope_.factor + smooth * scaled;
      auto medium = (wavelen < high_wavelen).logical_not().logical_and((wavelen > low_wavelen).logical_not());
      return torch::where(medium, smoothed, scaled);
    }
    case io::RopeType::kYarn: {
      const double base = rope_.theta, d = static_cast<double>(dim_);
      const double orig = static_cast<double>(rope_.original_max_position_embeddings);
      auto correction_dim = [&](double rotations) {
        return d * std::log(orig / (rotations * 2 * std::numbers::pi)) / (2 * std::log(base));
      };
      double low = correction_dim(rope_.beta_fast), high = correction_dim(rope_.beta_slow);
      if (rope_.truncate) {
        low = std::floor(low);
        high = std::ceil(high);
      }
      low = std::max(low, 0.0);
      high = std::min(high, d - 1);
      if (low == high) high += 0.001;
      auto ramp = ((torch::arange(dim_ / 2, torch::kFloat32) - low) / (high - low)).clamp(0, 1);
      auto pos_freqs = torch::pow(base, exponents);
      auto extrapolation = 1.0 / pos_freqs, interpolation = 1.0 / (rope_.factor * pos_freqs);
      auto extrapolation_factor = 1 - ramp;
      return interpolation * (1 - extrapolation_factor) + extrapolation * extrapolation_factor;
    }
  }
  return inv(rope_.theta);
}

std::pair<torch::Tensor, torch::Tensor> Rotary::cos_sin(const torch::Tensor& positions, torch::ScalarType dtype) {
  if (rope_.type == io::RopeType::kDynamic) {
    const int64_t seq_len = positions.max().item<int64_t>() + 1;
    if (seq_len > cached_len_) {
      inv_freq_ = inv_freq_for(seq_len);
      cached_len_ = seq_len;
    }
    if (seq_len < rope_.original_max_position_embeddings && cached_len_ > rope_.original_max_position_embeddings) {
      inv_freq_ = original_inv_freq_;
      cached_len_ = rope_.original_max_position_embeddings;
    }
  }
  auto inv = inv_freq_.to(positions.device());
  auto freqs = positions.to(torch::kFloat32).unsqueeze(-1) * inv.view({1, 1, -1});  // (N, T, R/2)
  auto emb = torch::cat({freqs, freqs}, -1);
  return {(emb.cos() * attention_scaling_).to(dtype), (emb.sin() * attention_scaling_).to(dtype)};
}

namespace {

torch::Tensor rotate_half(const torch::Tensor& x) {
  const int64_t h = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, h, h), x.narrow(-1, 0, h)}, -1);
}

// x: (N, H, T, Dh); cos/sin: (N, T, R) -> x with its first R dims rotated
torch::Tensor apply_rotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const int64_t r = cos.size(-1);
  auto c = cos.unsqueeze(1), s = sin.unsqueeze(1);
  if (r == x.size(-1)) return x * c + rotate_half(x) * s;
  auto rot = x.narrow(-1, 0, r), pass = x.narrow(-1, r, x.size(-1) - r);
  return torch::cat({rot * c + rotate_half(rot) * s, pass}, -1);
}

struct Family {
  const char* architecture;
  const char* model_type;
};
constexpr Family kFamilies[] = {
    {"LlamaForCausalLM", "llama"}, {"MistralForCausalLM", "mistral"}, {"Qwen2ForCausalLM", "qwen2"},
    {"GemmaForCausalLM", "gemma"}, {"Gemma2ForCausalLM", "gemma2"},
};

}  // namespace

// ---------------------------------------------------------------------------------------
// Layers

DecoderAttentionImpl::DecoderAttentionImpl(const io::DecoderConfig& c, int64_t)
    : heads(c.num_attention_heads), kv_heads(c.num_key_value_heads), head_dim(c.head_dim), scale(c.attention_scale),
      softcap(c.attn_logit_softcapping), dropout(c.attention_dropout) {
  q_proj = register_module("q_proj", layers::Linear(c.hidden_size, heads * head_dim, c.qkv_bias));
  k_proj = register_module("k_proj", layers::Linear(c.hidden_size, kv_heads * head_dim, c.qkv_bias));
  v_proj = register_module("v_proj", layers::Linear(c.hidden_size, kv_heads * head_dim, c.qkv_bias));
  o_proj = register_module("o_proj", layers::Linear(heads * head_dim, c.hidden_size, c.o_bias));
}

torch::Tensor DecoderAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                                            const torch::Tensor& bias, layers::KVCache* cache) {
  const int64_t n = x.size(0), t = x.size(1);
  auto q = q_proj->forward(x).view({n, t, heads, head_dim}).transpose(1, 2);
  auto k = k_proj->forward(x).view({n, t, kv_heads, head_dim}).transpose(1, 2);
  auto v = v_proj->forward(x).view({n, t, kv_heads, head_dim}).transpose(1, 2);
  q = apply_rotary(q, cos, sin);
  k = apply_rotary(k, cos, sin);
  if (cache) {
    if (!cache->empty()) {
      k = torch::cat({cache->k, k}, 2);
      v = torch::cat({cache->v, v}, 2);
    }
    cache->k = k;
    cache->v = v;
  }
  torch::Tensor out;
  const double p = is_training() ? dropout : 0.0;
  // No bias: nothing is masked beyond causality, and there are no cached positions when T > 1.
  const bool plain_causal = !bias.defined() && t > 1;
  if (softcap) {  // Gemma 2: eager attention with tanh soft-capping of the scores
    auto kx = kv_heads == heads ? k : k.repeat_interleave(heads / kv_heads, 1);
    auto vx = kv_heads == heads ? v : v.repeat_interleave(heads / kv_heads, 1);
    auto scores = torch::matmul(q, kx.transpose(2, 3)) * scale;
    scores = torch::tanh(scores / *softcap) * *softcap;
    if (bias.defined()) scores = scores + bias.to(scores.scalar_type());
    if (plain_causal) scores = scores + layers::causal_bias(t, 0, scores.options());
    auto probs = torch::softmax(scores, -1, torch::kFloat32).to(q.scalar_type());
    if (p > 0) probs = torch::dropout(probs, p, /*train=*/true);
    out = torch::matmul(probs, vx);
  } else {
    std::optional<torch::Tensor> mask;
    if (bias.defined()) mask = bias.to(q.scalar_type());
    out = at::scaled_dot_product_attention(q, k, v, mask, p, plain_causal, scale, /*enable_gqa=*/kv_heads != heads);
  }
  return o_proj->forward(out.transpose(1, 2).reshape({n, t, heads * head_dim}));
}

DecoderMLPImpl::DecoderMLPImpl(const io::DecoderConfig& c) : act(c.activation) {
  gate_proj = register_module("gate_proj", layers::Linear(c.hidden_size, c.intermediate_size, c.mlp_bias));
  up_proj = register_module("up_proj", layers::Linear(c.hidden_size, c.intermediate_size, c.mlp_bias));
  down_proj = register_module("down_proj", layers::Linear(c.intermediate_size, c.hidden_size, c.mlp_bias));
}

torch::Tensor DecoderMLPImpl::forward(const torch::Tensor& x) {
  return down_proj->forward(layers::activate(gate_proj->forward(x), act) * up_proj->forward(x));
}

DecoderLayerImpl::DecoderLayerImpl(const io::DecoderConfig& c, int64_t layer)
    : window(c.sliding_window.at(static_cast<std::size_t>(layer))) {
  self_attn = register_module("self_attn", DecoderAttention(c, layer));
  mlp = register_module("mlp", DecoderMLP(c));
  input_layernorm = register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps, c.norm_plus_one));
  post_attention_layernorm =
      register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps, c.norm_plus_one));
  if (c.sandwich_norms) {
    pre_feedforward_layernorm =
        register_module("pre_feedforward_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps, c.norm_plus_one));
    post_feedforward_layernorm =
        register_module("post_feedforward_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps, c.norm_plus_one));
  }
}

torch::Tensor DecoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                                        const torch::Tensor& bias, layers::KVCache* cache) {
  if (pre_feedforward_layernorm) {  // Gemma 2: norms after attention and around the MLP
    auto h = x + post_attention_layernorm->forward(self_attn->forward(input_layernorm->forward(x), cos, sin, bias, cache));
    return h + post_feedforward_layernorm->forward(mlp->forward(pre_feedforward_layernorm->forward(h)));
  }
  auto h = x + self_attn->forward(input_layernorm->forward(x), cos, sin, bias, cache);
  return h + mlp->forward(post_attention_layernorm->forward(h));
}

DecoderModelImpl::DecoderModelImpl(const io::DecoderConfig& c) {
  embed_tokens = register_module("embed_tokens", layers::Embedding(c.vocab_size, c.hidden_size, c.pad_token_id.value_or(-1)));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(DecoderLayer(c, i));
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps, c.norm_plus_one));
}

// ---------------------------------------------------------------------------------------
// The causal LM

DecoderForCausalLMImpl::DecoderForCausalLMImpl(const io::DecoderConfig& c) : config(c), rotary_(c) {
  model = register_module("model", DecoderModel(c));
  if (!c.tie_word_embeddings) lm_head = register_module("lm_head", layers::Linear(c.hidden_size, c.vocab_size, false));
}

torch::Tensor DecoderForCausalLMImpl::run(const torch::Tensor& ids, const torch::Tensor& positions,
                                          const torch::Tensor& full_mask, CausalState* state,
                                          std::vector<torch::Tensor>* hidden) {
  auto x = model->embed_tokens->forward(ids);
  if (config.scale_embeddings) {
    // Gemma: the normalizer is rounded to the activations' dtype first, as HF does.
    x = x * torch::tensor(std::sqrt(static_cast<double>(config.hidden_size)), x.options()).to(x.scalar_type());
  }
  const int64_t t = ids.size(1);
  auto [cos, sin] = rotary_.cos_sin(positions, x.scalar_type());
  // One bias per distinct window (full attention, sliding). None where it would mask nothing
  // beyond causality (no padding, a window longer than the sequence) and the step is either one
  // new position or the whole sequence: attention then runs SDPA's causal (or unmasked) kernel.
  const int64_t total = full_mask.size(1);
  const bool padded = full_mask.min().item<int64_t>() == 0;
  std::map<int64_t, torch::Tensor> biases;
  for (const auto& m : *model->layers) {
    const int64_t w = m->as<DecoderLayerImpl>()->window;
    if (biases.count(w)) continue;
    const bool window_cuts = w > 0 && w < total;
    const bool plain = !padded && !window_cuts && (t == 1 || t == total);
    biases[w] = plain ? torch::Tensor() : causal_attention_bias(full_mask, t, w, x.scalar_type());
  }
  const auto n_layers = model->layers->size();
  for (std::size_t i = 0; i < n_layers; ++i) {
    if (hidden) hidden->push_back(x);
    auto* layer = model->layers[i]->as<DecoderLayerImpl>();
    x = layer->forward(x, cos, sin, biases.at(layer->window), state ? &state->cache[i] : nullptr);
  }
  x = model->norm->forward(x);
  if (hidden) hidden->push_back(x);
  return x;
}

torch::Tensor DecoderForCausalLMImpl::project(const torch::Tensor& h) {
  torch::Tensor logits;
  if (lm_head) {
    logits = lm_head->forward(h);
  } else if (int8_projection) {
    logits = int8_projection->forward(h);
  } else {
    logits = torch::nn::functional::linear(h, model->embed_tokens->weight);
  }
  if (config.final_logit_softcapping) {
    const double cap = *config.final_logit_softcapping;
    logits = torch::tanh(logits / cap) * cap;
  }
  return logits;
}

NamedTensors DecoderForCausalLMImpl::forward(const NamedTensors& inputs) {
  auto in = causal_inputs(inputs);
  const auto dev = model->embed_tokens->weight.device();
  std::vector<torch::Tensor> hidden;
  auto last = run(in.input_ids.to(dev), in.position_ids.to(dev), in.attention_mask.to(dev), nullptr, &hidden);
  return causal_lm_outputs(hidden, project(last), in.labels);
}

CausalState DecoderForCausalLMImpl::start() const { return CausalState::with_layers(model->layers->size()); }

torch::Tensor DecoderForCausalLMImpl::step(const torch::Tensor& ids, const torch::Tensor& mask, CausalState& state) {
  const auto dev = model->embed_tokens->weight.device();
  const auto& full = state.extend_mask(mask, dev);
  const int64_t t = ids.size(1);
  auto positions = positions_from_mask(full).narrow(1, full.size(1) - t, t);
  auto h = run(ids.to(dev), positions, state.mask, &state, nullptr);
  return project(h.narrow(1, t - 1, 1).squeeze(1)).to(torch::kFloat32);
}

int DecoderForCausalLMImpl::quantize_int8() {
  return quantize_causal_lm(*this, !lm_head, model->embed_tokens->weight, int8_projection);
}

int DecoderForCausalLMImpl::prepack_f32() {
  return quantize_causal_lm(*this, !lm_head, model->embed_tokens->weight, int8_projection, /*prepack=*/true);
}

std::vector<std::string> decoder_architectures() {
  std::vector<std::string> out;
  for (const auto& f : kFamilies) out.push_back(f.architecture);
  return out;
}

std::optional<DecoderForCausalLM> make_decoder_model(const io::DecoderConfig& c, const std::string& architecture) {
  for (const auto& f : kFamilies) {
    if (architecture == f.architecture) {
      if (c.model_type != f.model_type) {
        throw UnsupportedModel(fmt::format("{}: class {} expects model_type '{}', found '{}'", c.source, architecture,
                                           f.model_type, c.model_type));
      }
      return DecoderForCausalLM(c);
    }
  }
  return std::nullopt;
}

}  // namespace xling::models
