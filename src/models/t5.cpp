// T5-family forward pass and incremental decoding (see t5.hpp). Shapes: N rows, S source
// tokens, T target tokens, P cached target positions, D d_model, H heads, V vocabulary.
#include "models/t5.hpp"

#include <cmath>

#include <fmt/format.h>

#include "xling/errors.hpp"

namespace xling::models {
namespace {

using torch::nn::Module;

torch::Tensor maybe_dropout(const torch::Tensor& x, double p, bool training) {
  return training && p > 0 ? torch::dropout(x, p, /*train=*/true) : x;
}

// HF's _relative_position_bucket: relative = key - query; bidirectional halves the buckets by
// sign; small distances get exact buckets, larger ones logarithmic buckets up to max_distance.
torch::Tensor relative_buckets(const torch::Tensor& relative, bool bidirectional, int64_t num_buckets, int64_t max_distance) {
  auto buckets = torch::zeros_like(relative);
  torch::Tensor rel = relative;
  if (bidirectional) {
    num_buckets /= 2;
    buckets = buckets + (rel > 0).to(torch::kLong) * num_buckets;
    rel = rel.abs();
  } else {
    rel = -torch::clamp_max(rel, 0);
  }
  const int64_t max_exact = num_buckets / 2;
  auto is_small = rel < max_exact;
  auto large = max_exact + (torch::log(rel.to(torch::kFloat32) / static_cast<double>(max_exact)) /
                            std::log(static_cast<double>(max_distance) / static_cast<double>(max_exact)) *
                            static_cast<double>(num_buckets - max_exact))
                               .to(torch::kLong);
  large = torch::clamp_max(large, num_buckets - 1);
  return buckets + torch::where(is_small, rel, large);
}

const char* const kSeq2SeqClasses[] = {"MT5ForConditionalGeneration", "T5ForConditionalGeneration"};
const char* const kEncoderClasses[] = {"MT5EncoderModel", "T5EncoderModel"};

}  // namespace

T5RMSNormImpl::T5RMSNormImpl(int64_t d, double e) : eps(e) { weight = register_parameter("weight", torch::empty({d})); }

torch::Tensor T5RMSNormImpl::forward(const torch::Tensor& x) {
  auto variance = x.to(torch::kFloat32).pow(2).mean(-1, /*keepdim=*/true);
  auto h = x * torch::rsqrt(variance + eps);
  if (weight.scalar_type() == torch::kFloat16 || weight.scalar_type() == torch::kBFloat16) h = h.to(weight.scalar_type());
  return weight * h;
}

T5FeedForwardImpl::T5FeedForwardImpl(const io::T5Config& c) : act(c.dense_act), dropout(c.dropout) {
  if (c.gated_act) {
    wi_0 = register_module("wi_0", layers::Linear(c.d_model, c.d_ff, false));
    wi_1 = register_module("wi_1", layers::Linear(c.d_model, c.d_ff, false));
  } else {
    wi = register_module("wi", layers::Linear(c.d_model, c.d_ff, false));
  }
  wo = register_module("wo", layers::Linear(c.d_ff, c.d_model, false));
}

torch::Tensor T5FeedForwardImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = wi ? layers::activate(wi->forward(x), act)
                       : layers::activate(wi_0->forward(x), act) * wi_1->forward(x);
  return wo->forward(maybe_dropout(h, dropout, is_training()));
}

T5BlockImpl::T5BlockImpl(const io::T5Config& c, bool decoder, bool has_relative_bias) : dropout(c.dropout) {
  layers::AttentionOptions o;
  o.d_model = c.d_model;
  o.heads = c.num_heads;
  o.head_dim = c.d_kv;
  o.bias = false;
  o.scale = 1.0;  // T5 folds the 1/sqrt(d) into its initialisation
  o.names = {"q", "k", "v", "o"};
  auto list = register_module("layer", torch::nn::ModuleList());
  auto self_group = std::make_shared<Module>();
  self_attention = self_group->register_module("SelfAttention", layers::MultiHeadAttention(o));
  self_attention->dropout = c.dropout;
  if (has_relative_bias) {
    relative_attention_bias = self_attention->register_module(
        "relative_attention_bias", layers::Embedding(c.relative_attention_num_buckets, c.num_heads));
  }
  self_norm = self_group->register_module("layer_norm", T5RMSNorm(c.d_model, c.layer_norm_epsilon));
  list->push_back(self_group);
  if (decoder) {
    auto cross_group = std::make_shared<Module>();
    cross_attention = cross_group->register_module("EncDecAttention", layers::MultiHeadAttention(o));
    cross_attention->dropout = c.dropout;
    cross_norm = cross_group->register_module("layer_norm", T5RMSNorm(c.d_model, c.layer_norm_epsilon));
    list->push_back(cross_group);
  }
  auto ff_group = std::make_shared<Module>();
  ff = ff_group->register_module("DenseReluDense", T5FeedForward(c));
  ff_norm = ff_group->register_module("layer_norm", T5RMSNorm(c.d_model, c.layer_norm_epsilon));
  list->push_back(ff_group);
}

torch::Tensor T5BlockImpl::forward(const torch::Tensor& x_in, const torch::Tensor& self_bias, const torch::Tensor& memory,
                                   const torch::Tensor& memory_bias, layers::KVCache* self_cache,
                                   layers::KVCache* cross_cache) {
  const bool train = is_training();
  auto x = x_in + maybe_dropout(self_attention->self_attention(self_norm->forward(x_in), self_bias, self_cache), dropout, train);
  if (cross_attention) {
    x = x + maybe_dropout(cross_attention->cross_attention(cross_norm->forward(x), memory, memory_bias, cross_cache), dropout,
                          train);
  }
  return x + maybe_dropout(ff->forward(ff_norm->forward(x)), dropout, train);
}

T5StackImpl::T5StackImpl(const io::T5Config& c, bool is_decoder, layers::Embedding embed) : config(c), decoder(is_decoder) {
  // HF's buckets divide by log(max_distance / exact buckets): equal values give garbage (negative)
  // buckets in transformers and an out-of-range lookup; refuse the config instead.
  const int64_t exact = is_decoder ? c.relative_attention_num_buckets / 2 : c.relative_attention_num_buckets / 4;
  if (c.relative_attention_max_distance <= exact) {
    throw InvalidArgument(fmt::format("{}: relative_attention_max_distance ({}) must exceed the {} exact relative buckets of "
                                      "the {} (relative_attention_num_buckets {}); transformers' bucket formula divides by "
                                      "log({}/{}) there",
                                      c.source, c.relative_attention_max_distance, exact, is_decoder ? "decoder" : "encoder",
                                      c.relative_attention_num_buckets, c.relative_attention_max_distance, exact));
  }
  if (embed) {
    embed_tokens = embed;  // tied to `shared`, owned by the model
  } else {
    embed_tokens = register_module("embed_tokens", layers::Embedding(c.vocab_size, c.d_model));
  }
  block = register_module("block", torch::nn::ModuleList());
  const int64_t n = is_decoder ? c.num_decoder_layers : c.num_layers;
  for (int64_t i = 0; i < n; ++i) block->push_back(T5Block(c, is_decoder, /*has_relative_bias=*/i == 0));
  final_layer_norm = register_module("final_layer_norm", T5RMSNorm(c.d_model, c.layer_norm_epsilon));
}

torch::Tensor T5StackImpl::position_bias(int64_t t, int64_t past, const torch::Device& device, torch::ScalarType dtype) {
  auto opts = torch::TensorOptions().dtype(torch::kLong).device(device);
  auto context = torch::arange(t, opts).unsqueeze(1) + past;
  auto memory = torch::arange(past + t, opts).unsqueeze(0);
  auto buckets = relative_buckets(memory - context, /*bidirectional=*/!decoder, config.relative_attention_num_buckets,
                                  config.relative_attention_max_distance);
  auto table = block[0]->as<T5BlockImpl>()->relative_attention_bias;
  return table->forward(buckets).permute({2, 0, 1}).unsqueeze(0).to(dtype);  // (1, H, T, P + T)
}

torch::Tensor T5StackImpl::run(torch::Tensor x, const torch::Tensor& self_bias, const torch::Tensor& memory,
                               const torch::Tensor& memory_bias, DecoderState* state, std::vector<torch::Tensor>* hidden) {
  for (std::size_t i = 0; i < block->size(); ++i) {
    if (hidden) hidden->push_back(x);
    layers::KVCache* self_cache = state ? &state->self_cache[i] : nullptr;
    layers::KVCache* cross_cache = state ? &state->cross_cache[i] : nullptr;
    x = block[i]->as<T5BlockImpl>()->forward(x, self_bias, memory, memory_bias, self_cache, cross_cache);
  }
  x = maybe_dropout(final_layer_norm->forward(x), config.dropout, is_training());
  if (hidden) hidden->push_back(x);
  return x;
}

T5ModelImpl::T5ModelImpl(const io::T5Config& c, bool enc_only, const T5Layout& layout) : config(c), encoder_only(enc_only) {
  shared = register_module("shared", layers::Embedding(c.vocab_size, c.d_model));
  encoder = register_module("encoder", T5Stack(c, false, layout.own_encoder_embed ? layers::Embedding(nullptr) : shared));
  if (!enc_only) {
    decoder = register_module("decoder", T5Stack(c, true, layout.own_decoder_embed ? layers::Embedding(nullptr) : shared));
    if (layout.own_lm_head) lm_head = register_module("lm_head", layers::Linear(c.d_model, c.vocab_size, false));
  }
}

int T5ModelImpl::quantize_int8() {
  int n = layers::quantize_linear_int8(*this);
  if (!lm_head && !encoder_only) {
    int8_projection = layers::Linear(config.d_model, config.vocab_size, false);
    int8_projection->weight = shared->weight;
    int8_projection->eval();
    int8_projection->quantize_int8();
    ++n;
  }
  return n;
}

torch::Tensor T5ModelImpl::logits(const torch::Tensor& h) {
  auto x = config.scale_decoder_outputs ? h * std::pow(static_cast<double>(config.d_model), -0.5) : h;
  if (lm_head) return lm_head->forward(x);
  if (int8_projection && !is_training()) return int8_projection->forward(x);
  return at::linear(x, shared->weight);
}

torch::Tensor T5ModelImpl::encode(const torch::Tensor& input_ids, const torch::Tensor& attention_mask) {
  auto x = maybe_dropout(encoder->embed_tokens->forward(input_ids), config.dropout, is_training());
  const int64_t s = input_ids.size(1);
  auto bias = encoder->position_bias(s, 0, x.device(), x.scalar_type()) + layers::padding_bias(attention_mask, x.scalar_type());
  return encoder->run(x, bias, {}, {}, nullptr, nullptr);
}

DecoderState T5ModelImpl::start_decoding(const torch::Tensor& memory, const torch::Tensor& attention_mask) {
  if (encoder_only) throw UnsupportedModel("an encoder-only T5 class cannot generate");
  DecoderState s;
  s.memory = memory;
  s.memory_bias = layers::padding_bias(attention_mask.to(memory.device()), memory.scalar_type());
  s.self_cache.resize(decoder->block->size());
  s.cross_cache.resize(decoder->block->size());
  for (std::size_t i = 0; i < decoder->block->size(); ++i) {
    decoder->block[i]->as<T5BlockImpl>()->cross_attention->fill_cross_cache(memory, s.cross_cache[i]);
  }
  s.memory = torch::Tensor();
  return s;
}

torch::Tensor T5ModelImpl::decode_step(const torch::Tensor& ids, DecoderState& state) {
  const int64_t t = ids.size(1);
  auto x = decoder->embed_tokens->forward(ids);
  auto bias = decoder->position_bias(t, state.past, x.device(), x.scalar_type());
  if (t > 1) bias = bias + layers::causal_bias(t, state.past, x.options());
  auto h = decoder->run(x, bias, state.memory, state.memory_bias, &state, nullptr);
  state.past += t;
  return logits(h.select(1, t - 1).unsqueeze(1)).squeeze(1).to(torch::kFloat32);
}

NamedTensors T5ModelImpl::forward(const NamedTensors& inputs) {
  auto in = seq2seq_inputs(inputs, config, encoder_only);
  NamedTensors out;
  std::vector<torch::Tensor> enc_hidden;
  auto x = maybe_dropout(encoder->embed_tokens->forward(in.input_ids), config.dropout, is_training());
  auto enc_pad = layers::padding_bias(in.attention_mask, x.scalar_type());
  auto enc_bias = encoder->position_bias(in.input_ids.size(1), 0, x.device(), x.scalar_type()) + enc_pad;
  auto memory = encoder->run(x, enc_bias, {}, {}, nullptr, &enc_hidden);
  const std::string prefix = encoder_only ? "" : "encoder_";
  for (std::size_t i = 0; i < enc_hidden.size(); ++i) out[fmt::format("{}hidden_states.{}", prefix, i)] = enc_hidden[i];
  if (encoder_only) {
    out["last_hidden_state"] = memory;
    return out;
  }
  out["encoder_last_hidden_state"] = memory;
  const int64_t t = in.decoder_input_ids.size(1);
  std::vector<torch::Tensor> dec_hidden;
  auto y = maybe_dropout(decoder->embed_tokens->forward(in.decoder_input_ids), config.dropout, is_training());
  auto self_bias = decoder->position_bias(t, 0, y.device(), y.scalar_type()) + layers::causal_bias(t, 0, y.options());
  auto h = decoder->run(y, self_bias, memory, enc_pad, nullptr, &dec_hidden);
  for (std::size_t i = 0; i < dec_hidden.size(); ++i) out[fmt::format("decoder_hidden_states.{}", i)] = dec_hidden[i];
  out["logits"] = logits(h);
  if (in.labels.defined()) out["loss"] = seq2seq_loss(out["logits"], in.labels);
  return out;
}

std::vector<std::string> t5_architectures() {
  std::vector<std::string> out;
  for (const char* a : kSeq2SeqClasses) out.push_back(a);
  for (const char* a : kEncoderClasses) out.push_back(a);
  return out;
}

bool t5_is_encoder_only(const std::string& architecture) {
  for (const char* a : kEncoderClasses) {
    if (architecture == a) return true;
  }
  return false;
}

std::optional<T5Model> make_t5_model(const io::T5Config& c, const std::string& architecture, const T5Layout& layout) {
  for (const auto& a : t5_architectures()) {
    if (a == architecture) return T5Model(c, t5_is_encoder_only(architecture), layout);
  }
  return std::nullopt;
}

}  // namespace xling::models
