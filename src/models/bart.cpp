// BART-family forward pass and incremental decoding (see bart.hpp). Shapes: N rows (batch or
// batch x beams), S source tokens, T target tokens, P cached target positions, D d_model,
// V target vocabulary.
#include "models/bart.hpp"

#include <cmath>

#include <fmt/format.h>

#include "xling/errors.hpp"

namespace xling::models {
namespace {

using torch::nn::Module;

constexpr double kLayerNormEps = 1e-5;  // torch.nn.LayerNorm's default, which every BART-family class uses

layers::LayerNorm make_norm(Module& parent, const std::string& name, int64_t d) {
  return parent.register_module(name, layers::LayerNorm(d, kLayerNormEps));
}

torch::Tensor maybe_dropout(const torch::Tensor& x, double p, bool training) {
  return training && p > 0 ? torch::dropout(x, p, /*train=*/true) : x;
}

struct Family {
  const char* architecture;
  const char* model_type;
};
const Family kFamilies[] = {
    {"M2M100ForConditionalGeneration", "m2m_100"},
    {"MBartForConditionalGeneration", "mbart"},
    {"MarianMTModel", "marian"},
    {"BartForConditionalGeneration", "bart"},
};

}  // namespace

BartLayerImpl::BartLayerImpl(const io::BartConfig& c, bool decoder)
    : pre_norm(c.pre_norm), act(c.activation), dropout(c.dropout), activation_dropout(c.activation_dropout) {
  const int64_t heads = decoder ? c.decoder_attention_heads : c.encoder_attention_heads;
  const int64_t ffn = decoder ? c.decoder_ffn_dim : c.encoder_ffn_dim;
  layers::AttentionOptions o;
  o.d_model = c.d_model;
  o.heads = heads;
  o.head_dim = c.d_model / heads;
  o.bias = true;
  o.scale = 1.0 / std::sqrt(static_cast<double>(o.head_dim));
  self_attn = register_module("self_attn", layers::MultiHeadAttention(o));
  self_attn->dropout = c.attention_dropout;
  self_attn_layer_norm = make_norm(*this, "self_attn_layer_norm", c.d_model);
  if (decoder) {
    encoder_attn = register_module("encoder_attn", layers::MultiHeadAttention(o));
    encoder_attn->dropout = c.attention_dropout;
    encoder_attn_layer_norm = make_norm(*this, "encoder_attn_layer_norm", c.d_model);
  }
  fc1 = register_module("fc1", layers::Linear(c.d_model, ffn));
  fc2 = register_module("fc2", layers::Linear(ffn, c.d_model));
  final_layer_norm = make_norm(*this, "final_layer_norm", c.d_model);
}

torch::Tensor BartLayerImpl::forward(const torch::Tensor& x_in, const torch::Tensor& self_bias,
                                     const torch::Tensor& memory, const torch::Tensor& memory_bias,
                                     layers::KVCache* self_cache, layers::KVCache* cross_cache) {
  const bool train = is_training();
  torch::Tensor x = x_in;
  // One residual block: pre-norm normalises the block's input, post-norm the sum.
  auto block = [&](layers::LayerNorm norm, const std::function<torch::Tensor(const torch::Tensor&)>& f) {
    if (pre_norm) return x + maybe_dropout(f(norm->forward(x)), dropout, train);
    return norm->forward(x + maybe_dropout(f(x), dropout, train));
  };
  x = block(self_attn_layer_norm, [&](const torch::Tensor& h) { return self_attn->self_attention(h, self_bias, self_cache); });
  if (encoder_attn) {
    x = block(encoder_attn_layer_norm,
              [&](const torch::Tensor& h) { return encoder_attn->cross_attention(h, memory, memory_bias, cross_cache); });
  }
  x = block(final_layer_norm, [&](const torch::Tensor& h) {
    return fc2->forward(maybe_dropout(layers::activate(fc1->forward(h), act), activation_dropout, train));
  });
  return x;
}

BartStackImpl::BartStackImpl(const io::BartConfig& c, bool is_decoder, layers::Embedding shared)
    : config(c), decoder(is_decoder), embed_scale(c.scale_embedding ? std::sqrt(static_cast<double>(c.d_model)) : 1.0) {
  if (shared) {
    embed_tokens = shared;  // not registered: the model owns it as model.shared
  } else {
    const int64_t vocab = is_decoder ? c.decoder_vocab_size : c.vocab_size;
    embed_tokens = register_module("embed_tokens", layers::Embedding(vocab, c.d_model, c.pad_token_id.value_or(-1)));
  }
  if (c.positions == io::PositionKind::kLearnedOffset2) {
    embed_positions = register_module("embed_positions", layers::Embedding(c.max_position_embeddings + 2, c.d_model));
  }
  if (c.layernorm_embedding) layernorm_embedding = make_norm(*this, "layernorm_embedding", c.d_model);
  layers = register_module("layers", torch::nn::ModuleList());
  const int64_t n = is_decoder ? c.decoder_layers : c.encoder_layers;
  for (int64_t i = 0; i < n; ++i) layers->push_back(BartLayer(c, is_decoder));
  if (c.final_layer_norm) layer_norm = make_norm(*this, "layer_norm", c.d_model);
}

torch::Tensor BartStackImpl::sinusoids(int64_t rows, const torch::TensorOptions& options) {
  if (sinusoid_table_.defined() && sinusoid_table_.size(0) >= rows && sinusoid_table_.device() == options.device() &&
      sinusoid_table_.scalar_type() == options.dtype().toScalarType()) {
    return sinusoid_table_;
  }
  const int64_t n = std::max<int64_t>(rows, config.max_position_embeddings + 2);
  const int64_t d = config.d_model;
  torch::Tensor table;
  if (config.positions == io::PositionKind::kSinusoidalPadded) {
    // fairseq/tensor2tensor layout in float32 (as HF computes it): sin | cos with frequencies
    // exp(-i * log(10000) / (d/2 - 1)); the padding row is zero.
    const int64_t half = d / 2;
    const double step = std::log(10000.0) / static_cast<double>(half - 1);
    auto freq = torch::exp(torch::arange(half, torch::kLong).to(torch::kFloat32) * -step);
    auto angles = torch::arange(n, torch::kLong).to(torch::kFloat32).unsqueeze(1) * freq.unsqueeze(0);
    table = torch::cat({torch::sin(angles), torch::cos(angles)}, 1).view({n, -1});
    if (d % 2 == 1) table = torch::cat({table, torch::zeros({n, 1})}, 1);
    if (config.pad_token_id && *config.pad_token_id < n) table[*config.pad_token_id].zero_();
  } else {
    // Marian: angle(pos, j) = pos / 10000^(2 (j / 2) / d) in float64; sin of the even columns
    // fills the first half, cos of the odd columns the second half.
    auto j = torch::arange(d, torch::kLong);
    auto expo = (torch::floor_divide(j, 2) * 2).to(torch::kFloat64) / static_cast<double>(d);
    auto angles = torch::arange(n, torch::kLong).to(torch::kFloat64).unsqueeze(1) / torch::pow(10000.0, expo).unsqueeze(0);
    const int64_t sentinel = d % 2 == 0 ? d / 2 : d / 2 + 1;
    table = torch::empty({n, d}, torch::kFloat64);
    table.narrow(1, 0, sentinel).copy_(torch::sin(angles.slice(1, 0, d, 2)));
    table.narrow(1, sentinel, d - sentinel).copy_(torch::cos(angles.slice(1, 1, d, 2)));
    table = table.to(torch::kFloat32);
  }
  sinusoid_table_ = table.to(options);
  return sinusoid_table_;
}

torch::Tensor BartStackImpl::embed(const torch::Tensor& ids, int64_t past) {
  // ids: (N, T) -> (N, T, D)
  auto x = embed_tokens->forward(ids);
  if (embed_scale != 1.0) x = x * embed_scale;
  const int64_t t = ids.size(1);
  torch::Tensor pos;
  switch (config.positions) {
    case io::PositionKind::kSinusoidalPadded: {
      // padding_idx + running count of non-pad tokens (+ past); pads keep padding_idx (zero row)
      const int64_t pad = *config.pad_token_id;
      auto keep = ids.ne(pad).to(torch::kLong);
      auto position_ids = (keep.cumsum(1) + past) * keep + pad;
      const int64_t rows = pad + 1 + t + past;
      pos = sinusoids(rows, x.options()).index_select(0, position_ids.view({-1})).view({ids.size(0), t, -1});
      break;
    }
    case io::PositionKind::kSinusoidalMarian:
      pos = sinusoids(past + t, x.options()).narrow(0, past, t).unsqueeze(0);
      break;
    case io::PositionKind::kLearnedOffset2: {
      if (past + t > config.max_position_embeddings) {
        throw InvalidArgument(fmt::format("{} positions exceed max_position_embeddings = {} of {}", past + t,
                                          config.max_position_embeddings, config.source));
      }
      pos = embed_positions->weight.narrow(0, past + 2, t).unsqueeze(0);
      break;
    }
  }
  x = x + pos;
  if (layernorm_embedding) x = layernorm_embedding->forward(x);
  return maybe_dropout(x, config.dropout, is_training());
}

torch::Tensor BartStackImpl::run(torch::Tensor x, const torch::Tensor& self_bias, const torch::Tensor& memory,
                                 const torch::Tensor& memory_bias, DecoderState* state,
                                 std::vector<torch::Tensor>* hidden) {
  for (std::size_t i = 0; i < layers->size(); ++i) {
    if (hidden) hidden->push_back(x);
    layers::KVCache* self_cache = state ? &state->self_cache[i] : nullptr;
    layers::KVCache* cross_cache = state ? &state->cross_cache[i] : nullptr;
    x = layers[i]->as<BartLayerImpl>()->forward(x, self_bias, memory, memory_bias, self_cache, cross_cache);
  }
  if (layer_norm) x = layer_norm->forward(x);
  if (hidden) hidden->push_back(x);
  return x;
}

BartCoreImpl::BartCoreImpl(const io::BartConfig& c) {
  if (c.share_encoder_decoder_embeddings) {
    shared = register_module("shared", layers::Embedding(c.vocab_size, c.d_model, c.pad_token_id.value_or(-1)));
  }
  encoder = register_module("encoder", BartStack(c, false, shared));
  decoder = register_module("decoder", BartStack(c, true, shared));
}

BartForConditionalGenerationImpl::BartForConditionalGenerationImpl(const io::BartConfig& c) : config(c) {
  model = register_module("model", BartCore(c));
  if (c.final_logits_bias) {
    final_logits_bias = register_parameter("final_logits_bias", torch::zeros({1, c.decoder_vocab_size}),
                                           /*requires_grad=*/false);
  }
  if (!c.tie_word_embeddings) lm_head = register_module("lm_head", layers::Linear(c.d_model, c.decoder_vocab_size, false));
}

torch::Tensor BartForConditionalGenerationImpl::output_weight() const {
  return lm_head ? lm_head->weight : model->decoder->embed_tokens->weight;
}

int BartForConditionalGenerationImpl::quantize_int8() {
  int n = layers::quantize_linear_int8(*this);
  if (!lm_head) {
    int8_projection = layers::Linear(config.d_model, config.decoder_vocab_size, false);
    int8_projection->weight = model->decoder->embed_tokens->weight;
    int8_projection->eval();
    int8_projection->quantize_int8();
    ++n;
  }
  return n;
}

torch::Tensor BartForConditionalGenerationImpl::logits(const torch::Tensor& h) {
  // h: (N, T, D) -> (N, T, V)
  auto out = lm_head                                    ? lm_head->forward(h)
             : int8_projection && !is_training()        ? int8_projection->forward(h)
                                                        : at::linear(h, model->decoder->embed_tokens->weight);
  if (final_logits_bias.defined()) out = out + final_logits_bias;
  return out;
}

torch::Tensor BartForConditionalGenerationImpl::encode(const torch::Tensor& input_ids, const torch::Tensor& attention_mask) {
  auto x = model->encoder->embed(input_ids, 0);
  auto bias = layers::padding_bias(attention_mask, x.scalar_type());
  return model->encoder->run(x, bias, {}, {}, nullptr, nullptr);
}

DecoderState BartForConditionalGenerationImpl::start_decoding(const torch::Tensor& memory,
                                                              const torch::Tensor& attention_mask) {
  DecoderState s;
  s.memory = memory;
  s.memory_bias = layers::padding_bias(attention_mask.to(memory.device()), memory.scalar_type());
  s.self_cache.resize(model->decoder->layers->size());
  s.cross_cache.resize(model->decoder->layers->size());
  for (std::size_t i = 0; i < model->decoder->layers->size(); ++i) {
    model->decoder->layers[i]->as<BartLayerImpl>()->encoder_attn->fill_cross_cache(memory, s.cross_cache[i]);
  }
  s.memory = torch::Tensor();
  return s;
}

torch::Tensor BartForConditionalGenerationImpl::decode_step(const torch::Tensor& ids, DecoderState& state) {
  // ids: (N, T) -> logits of the last position (N, V) float32
  const int64_t t = ids.size(1);
  auto x = model->decoder->embed(ids, state.past);
  torch::Tensor self_bias = t > 1 ? layers::causal_bias(t, state.past, x.options()) : torch::Tensor();
  auto h = model->decoder->run(x, self_bias, state.memory, state.memory_bias, &state, nullptr);
  state.past += t;
  return logits(h.select(1, t - 1).unsqueeze(1)).squeeze(1).to(torch::kFloat32);
}

NamedTensors BartForConditionalGenerationImpl::forward(const NamedTensors& inputs) {
  auto in = seq2seq_inputs(inputs, config);
  NamedTensors out;
  std::vector<torch::Tensor> enc_hidden, dec_hidden;
  auto x = model->encoder->embed(in.input_ids, 0);
  auto enc_bias = layers::padding_bias(in.attention_mask, x.scalar_type());
  auto memory = model->encoder->run(x, enc_bias, {}, {}, nullptr, &enc_hidden);
  auto y = model->decoder->embed(in.decoder_input_ids, 0);
  auto causal = layers::causal_bias(in.decoder_input_ids.size(1), 0, y.options());
  auto h = model->decoder->run(y, causal, memory, enc_bias, nullptr, &dec_hidden);
  for (std::size_t i = 0; i < enc_hidden.size(); ++i) out[fmt::format("encoder_hidden_states.{}", i)] = enc_hidden[i];
  for (std::size_t i = 0; i < dec_hidden.size(); ++i) out[fmt::format("decoder_hidden_states.{}", i)] = dec_hidden[i];
  out["encoder_last_hidden_state"] = memory;
  out["logits"] = logits(h);
  if (in.labels.defined()) out["loss"] = seq2seq_loss(out["logits"], in.labels);
  return out;
}

std::vector<std::string> bart_architectures() {
  std::vector<std::string> out;
  for (const auto& f : kFamilies) out.push_back(f.architecture);
  return out;
}

std::optional<BartForConditionalGeneration> make_bart_model(const io::BartConfig& c, const std::string& architecture) {
  for (const auto& f : kFamilies) {
    if (architecture == f.architecture) {
      if (c.model_type != f.model_type) {
        throw UnsupportedModel(fmt::format("{}: class {} expects model_type '{}', found '{}'", c.source, architecture,
                                           f.model_type, c.model_type));
      }
      return BartForConditionalGeneration(c);
    }
  }
  return std::nullopt;
}

std::vector<std::string> bart_tied_aliases(const io::BartConfig& c) {
  std::vector<std::string> out;
  if (c.share_encoder_decoder_embeddings) {
    out = {"model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight"};
  }
  if (c.tie_word_embeddings) out.push_back("lm_head.weight");
  // Sinusoidal tables are recomputed; older saves of Marian store them as frozen weights.
  if (c.positions != io::PositionKind::kLearnedOffset2) {
    out.push_back("model.encoder.embed_positions.weight");
    out.push_back("model.decoder.embed_positions.weight");
  }
  return out;
}

}  // namespace xling::models
