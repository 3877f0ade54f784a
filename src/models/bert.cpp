// BERT family forward pass (see bert.hpp). Shapes: B batch, T tokens, D hidden, H heads,
// Dh = D / H, V vocabulary, L labels.
#include "models/bert.hpp"

#include <fmt/format.h>

#include "xling/errors.hpp"

namespace xling::models {
namespace {

using torch::nn::Module;

// An empty module that only groups children, so that names follow HF's nesting.
std::shared_ptr<Module> group(Module& parent, const std::string& name) {
  return parent.register_module(name, std::make_shared<Module>());
}

layers::Linear linear(Module& parent, const std::string& name, int64_t in, int64_t out) {
  return parent.register_module(name, layers::Linear(in, out));
}

layers::LayerNorm layer_norm(Module& parent, const std::string& name, int64_t d, double eps) {
  return parent.register_module(name, layers::LayerNorm(d, eps));
}

// In-place activation of a fresh intermediate (saves an allocation of (B*T, I) per layer).
void activate_(torch::Tensor& x, io::Activation a) {
  switch (a) {
    case io::Activation::kGelu: at::gelu_(x); return;
    case io::Activation::kGeluTanh:
    case io::Activation::kGeluFast: at::gelu_(x, "tanh"); return;
    case io::Activation::kRelu: x.relu_(); return;
    case io::Activation::kSilu: at::silu_(x); return;
    case io::Activation::kQuickGelu: x.mul_(torch::sigmoid(1.702 * x)); return;
    case io::Activation::kTanh: x.tanh_(); return;
  }
}

}  // namespace

BertEmbeddingsImpl::BertEmbeddingsImpl(const io::BertConfig& c) : dropout(c.hidden_dropout_prob) {
  // HF gives the word embeddings (and RoBERTa's position embeddings) padding_idx = pad_token_id:
  // that row receives no gradient.
  const int64_t pad = c.pad_token_id && *c.pad_token_id >= 0 && *c.pad_token_id < c.vocab_size ? *c.pad_token_id : -1;
  word_embeddings = register_module("word_embeddings", layers::Embedding(c.vocab_size, c.hidden_size, pad));
  const int64_t pos_pad = c.position_ids == io::PositionIds::kFromPaddingIdx && pad < c.max_position_embeddings ? pad : -1;
  position_embeddings =
      register_module("position_embeddings", layers::Embedding(c.max_position_embeddings, c.hidden_size, pos_pad));
  token_type_embeddings = register_module("token_type_embeddings", layers::Embedding(c.type_vocab_size, c.hidden_size));
  LayerNorm = layer_norm(*this, "LayerNorm", c.hidden_size, c.layer_norm_eps);
}

torch::Tensor BertEmbeddingsImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids,
                                          const torch::Tensor& position_ids) {
  return forward_embeds(word_embeddings(input_ids), token_type_ids, position_ids);
}

torch::Tensor BertEmbeddingsImpl::forward_embeds(const torch::Tensor& inputs_embeds, const torch::Tensor& token_type_ids,
                                                 const torch::Tensor& position_ids) {
  auto x = inputs_embeds + token_type_embeddings(token_type_ids) + position_embeddings(position_ids);
  return torch::dropout(LayerNorm(x), dropout, is_training());
}

BertLayerImpl::BertLayerImpl(const io::BertConfig& c)
    : heads(c.num_attention_heads),
      head_dim(c.head_dim()),
      act(c.hidden_act),
      hidden_dropout(c.hidden_dropout_prob),
      attention_dropout(c.attention_probs_dropout_prob) {
  const int64_t d = c.hidden_size;
  auto attention = group(*this, "attention");
  auto self = group(*attention, "self");
  query = linear(*self, "query", d, d);
  key = linear(*self, "key", d, d);
  value = linear(*self, "value", d, d);
  auto output = group(*attention, "output");
  attn_out = linear(*output, "dense", d, d);
  attn_norm = layer_norm(*output, "LayerNorm", d, c.layer_norm_eps);
  inter = linear(*group(*this, "intermediate"), "dense", d, c.intermediate_size);
  auto ffn_out = group(*this, "output");
  out = linear(*ffn_out, "dense", c.intermediate_size, d);
  out_norm = layer_norm(*ffn_out, "LayerNorm", d, c.layer_norm_eps);
}

torch::Tensor BertLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
  const auto b = x.size(0), t = x.size(1), d = x.size(2);
  // Projections run as 2-D addmm on (B*T, D) rows; activations and residual adds are in place
  // (measured ~10 % faster than 3-D linear + out-of-place ops on 2 cores, bench/encoder_bench.py).
  auto rows = x.reshape({b * t, d});
  auto proj = [](const layers::Linear& l, const torch::Tensor& in) { return l->forward2d(in); };  // + LoRA when set
  // (B*T, D) -> (B, H, T, Dh)
  auto split = [&](const torch::Tensor& y) { return y.view({b, t, heads, head_dim}).transpose(1, 2); };
  // Dropout as HF places it (attention probabilities, after each output projection); a no-op
  // in eval mode.
  const bool train = is_training();
  auto ctx = at::scaled_dot_product_attention(split(proj(query, rows)), split(proj(key, rows)), split(proj(value, rows)),
                                            mask.defined() ? std::optional<torch::Tensor>(mask) : std::nullopt,
                                            train ? attention_dropout : 0.0);
  ctx = ctx.transpose(1, 2).reshape({b * t, d});
  auto a = torch::dropout(proj(attn_out, ctx), hidden_dropout, train);
  auto h = attn_adapter ? attn_adapter->forward(a, rows, *attn_norm) : attn_norm(a.add_(rows));
  auto f = proj(inter, h);
  // In place at inference; with autograd on, gelu_'s backward would need the overwritten input.
  if (torch::GradMode::is_enabled()) f = layers::activate(f, act);
  else activate_(f, act);
  auto o = torch::dropout(proj(out, f), hidden_dropout, train);
  return (out_adapter ? out_adapter->forward(o, h, *out_norm) : out_norm(o.add_(h))).view({b, t, d});
}

void BertLayerImpl::set_adapters(layers::BottleneckAdapter attention, layers::BottleneckAdapter output) {
  auto children = named_modules();
  for (auto [group, slot, adapter] : {std::tuple{"attention.output", &attn_adapter, attention},
                                      std::tuple{"output", &out_adapter, output}}) {
    auto& parent = *children[group];
    if (*slot) parent.unregister_module("adapter");
    *slot = adapter ? parent.register_module("adapter", adapter) : layers::BottleneckAdapter(nullptr);
  }
}

BertBackboneImpl::BertBackboneImpl(const io::BertConfig& c, bool with_pooler) : config(c) {
  embeddings = register_module("embeddings", BertEmbeddings(c));
  auto encoder = group(*this, "encoder");
  layers = encoder->register_module("layer", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(BertLayer(c));
  if (with_pooler) pooler = linear(*group(*this, "pooler"), "dense", c.hidden_size, c.hidden_size);
}

torch::Tensor BertBackboneImpl::sequential_position_ids(int64_t b, int64_t t, const torch::TensorOptions& opts) const {
  const int64_t start = config.position_ids == io::PositionIds::kArange ? 0 : config.pad_token_id.value_or(1) + 1;
  return torch::arange(start, start + t, opts).unsqueeze(0).expand({b, t});
}

torch::Tensor BertBackboneImpl::position_ids(const torch::Tensor& input_ids) const {
  const auto t = input_ids.size(1);
  if (config.position_ids == io::PositionIds::kArange) {
    return torch::arange(t, input_ids.options()).unsqueeze(0).expand_as(input_ids);
  }
  // RoBERTa/XLM-R: padding_idx + 1 + running count of non-pad tokens; pads get padding_idx.
  const int64_t pad = config.pad_token_id.value_or(1);
  auto keep = input_ids.ne(pad).to(torch::kLong);
  return torch::cumsum(keep, 1) * keep + pad;
}

std::vector<torch::Tensor> BertBackboneImpl::forward(const BertInputs& in, torch::Tensor* pooled) {
  const auto& input_ids = in.input_ids;
  const auto b = input_ids.size(0), n = in.prompt.defined() ? in.prompt.size(0) : 0, t = n + input_ids.size(1);
  if (t > config.max_position_embeddings) {
    throw InvalidArgument(fmt::format("input has {} tokens{}; the model takes at most {} (max_position_embeddings)", t,
                                      n ? fmt::format(" ({} of them prompt-tuning virtual tokens)", n) : "",
                                      config.max_position_embeddings));
  }
  const auto opts = input_ids.options();
  // PEFT's prompt tuning: N ones in front of the mask, N zeros in front of the token types.
  auto attention_mask = in.attention_mask.defined() && n ? torch::cat({torch::ones({b, n}, in.attention_mask.options()),
                                                                        in.attention_mask}, 1)
                                                         : in.attention_mask;
  auto mask_in = attention_mask.defined() ? attention_mask : torch::ones({b, t}, opts);
  auto types = in.token_type_ids.defined()
                   ? (n ? torch::cat({torch::zeros({b, n}, in.token_type_ids.options()), in.token_type_ids}, 1)
                        : in.token_type_ids)
                   : torch::zeros({b, t}, opts);
  torch::Tensor x;
  if (n) {
    // (N, D) -> (B, N + T, D): HF's inputs_embeds path, whose position ids ignore padding.
    auto words = embeddings->word_embeddings(input_ids);
    auto embeds = torch::cat({in.prompt.to(words.scalar_type()).unsqueeze(0).expand({b, n, words.size(2)}), words}, 1);
    x = embeddings->forward_embeds(embeds, types, sequential_position_ids(b, t, opts));
  } else {
    x = embeddings(input_ids, types, position_ids(input_ids));
  }
  // (B, T) 1/0 -> (B, 1, 1, T) additive: 0 where attended, the dtype's lowest value where padded.
  const double lowest = x.scalar_type() == torch::kHalf ? -65504.0 : std::numeric_limits<float>::lowest();
  // A batch without padding needs no mask (the common case after length sorting): SDPA then
  // takes its unmasked path.
  torch::Tensor mask;
  if (attention_mask.defined() && !mask_in.all().item<bool>()) {
    mask = (1.0 - mask_in.to(x.scalar_type())).mul(lowest).view({b, 1, 1, t});
  }
  std::vector<torch::Tensor> hidden{x};
  for (const auto& layer : *layers) {
    x = layer->as<BertLayer>()->forward(x, mask);
    hidden.push_back(x);
  }
  if (pooled && pooler) *pooled = torch::tanh(pooler(x.select(1, 0)));
  return hidden;
}

BertTaskModelImpl::BertTaskModelImpl(const io::BertConfig& c, BertHead h, bool with_pooler)
    : config(c), head(h), prefix(c.position_ids == io::PositionIds::kArange ? "bert" : "roberta") {
  const int64_t d = c.hidden_size, labels = c.num_labels;
  backbone = register_module(prefix, BertBackbone(c, with_pooler));
  const bool roberta = c.position_ids == io::PositionIds::kFromPaddingIdx;
  switch (h) {
    case BertHead::kNone: break;
    case BertHead::kSequenceClassification:
      if (roberta) {
        auto cls = group(*this, "classifier");
        classifier_dense = linear(*cls, "dense", d, d);
        classifier_out = linear(*cls, "out_proj", d, labels);
      } else {
        classifier = linear(*this, "classifier", d, labels);
      }
      break;
    case BertHead::kTokenClassification: classifier = linear(*this, "classifier", d, labels); break;
    case BertHead::kMaskedLM:
      if (roberta) {
        auto lm = group(*this, "lm_head");
        mlm_dense = linear(*lm, "dense", d, d);
        mlm_norm = layer_norm(*lm, "layer_norm", d, c.layer_norm_eps);
        mlm_bias = lm->register_parameter("bias", torch::zeros({c.vocab_size}));
      } else {
        auto pred = group(*group(*this, "cls"), "predictions");
        auto transform = group(*pred, "transform");
        mlm_dense = linear(*transform, "dense", d, d);
        mlm_norm = layer_norm(*transform, "LayerNorm", d, c.layer_norm_eps);
        mlm_bias = pred->register_parameter("bias", torch::zeros({c.vocab_size}));
      }
      break;
  }
}

NamedTensors BertTaskModelImpl::forward(const NamedTensors& inputs) {
  auto get = [&](const char* k) {
    auto it = inputs.find(k);
    return it == inputs.end() ? torch::Tensor() : it->second.to(torch::kLong);
  };
  auto input_ids = get("input_ids");
  if (!input_ids.defined()) throw InvalidArgument("input 'input_ids' is missing");
  if (input_ids.dim() != 2) {
    throw InvalidArgument(fmt::format("input_ids must be (batch, tokens), found {} dims", input_ids.dim()));
  }
  auto attention_mask = get("attention_mask"), token_type_ids = get("token_type_ids");
  auto labels_it = inputs.find("labels");  // class ids, or floats for regression / multi-label
  torch::Tensor labels = labels_it == inputs.end() ? torch::Tensor() : labels_it->second;
  for (const auto* t : {&attention_mask, &token_type_ids}) {
    if (t->defined() && t->sizes() != input_ids.sizes()) {
      throw InvalidArgument(fmt::format("attention_mask/token_type_ids must have input_ids' shape [{}, {}]",
                                        input_ids.size(0), input_ids.size(1)));
    }
  }
  const auto v = config.vocab_size;
  if (input_ids.numel() > 0 && (input_ids.min().item<int64_t>() < 0 || input_ids.max().item<int64_t>() >= v)) {
    throw InvalidArgument(fmt::format("input_ids hold ids outside [0, {}) (vocab_size)", v));
  }
  if (token_type_ids.defined() && token_type_ids.numel() > 0 &&
      (token_type_ids.min().item<int64_t>() < 0 || token_type_ids.max().item<int64_t>() >= config.type_vocab_size)) {
    throw InvalidArgument(fmt::format("token_type_ids hold values outside [0, {})", config.type_vocab_size));
  }
  torch::Tensor pooled;
  auto hidden = backbone->forward({input_ids, attention_mask, token_type_ids, prompt_embeddings}, &pooled);
  NamedTensors out;
  for (std::size_t i = 0; i < hidden.size(); ++i) out["hidden_states." + std::to_string(i)] = hidden[i];
  const auto& last = hidden.back();
  // Token-level heads see the real tokens only (the prompt rows come first).
  const auto tokens = prompt_embeddings.defined() ? last.narrow(1, prompt_embeddings.size(0), input_ids.size(1)) : last;
  if (head == BertHead::kNone) {
    out["last_hidden_state"] = last;
    if (pooled.defined()) out["pooler_output"] = pooled;
    return out;
  }
  torch::Tensor logits;
  const double p = config.classifier_dropout.value_or(config.hidden_dropout_prob);
  auto drop = [&](const torch::Tensor& x) { return torch::dropout(x, p, is_training()); };
  switch (head) {
    case BertHead::kSequenceClassification:
      // BERT: classifier(dropout(pooler)); RoBERTa: out_proj(dropout(tanh(dense(dropout(<s>)))))
      logits = classifier ? classifier(drop(pooled))
                          : classifier_out(drop(torch::tanh(classifier_dense(drop(last.select(1, 0))))));
      break;
    case BertHead::kTokenClassification: logits = classifier(drop(tokens)); break;
    case BertHead::kMaskedLM: {
      // BERT's transform uses hidden_act; RoBERTa's lm_head always uses exact gelu.
      auto a = prefix == "roberta" ? torch::gelu(mlm_dense(tokens)) : layers::activate(mlm_dense(tokens), config.hidden_act);
      auto h = mlm_norm(a);
      logits = torch::matmul(h, backbone->embeddings->word_embeddings->weight.t()) + mlm_bias;  // (B, T, V)
      break;
    }
    case BertHead::kNone: break;
  }
  out["logits"] = logits;
  if (labels.defined()) {
    if (head == BertHead::kSequenceClassification) {
      if (config.problem_type == "regression" || (config.problem_type.empty() && config.num_labels == 1)) {
        out["loss"] = torch::mse_loss(logits.squeeze(-1), labels.to(logits.scalar_type()).view({-1}));
      } else if (config.problem_type == "multi_label_classification") {
        out["loss"] = torch::binary_cross_entropy_with_logits(logits, labels.to(logits.scalar_type()));
      } else {
        out["loss"] = torch::nn::functional::cross_entropy(logits.view({-1, logits.size(-1)}), labels.to(torch::kLong).view({-1}));
      }
    } else {
      out["loss"] = torch::nn::functional::cross_entropy(
          logits.view({-1, logits.size(-1)}), labels.to(torch::kLong).view({-1}),
          torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100));
    }
  }
  return out;
}

void BertTaskModelImpl::set_prompt(const torch::Tensor& prompt) {
  if (prompt_embeddings.defined()) {
    // torch::nn::Module has no unregister_parameter: drop it from the parameter dict directly.
    parameters_.erase("prompt_embeddings");
    prompt_embeddings = torch::Tensor();
  }
  if (prompt.defined()) prompt_embeddings = register_parameter("prompt_embeddings", prompt);
}

namespace {

struct Arch {
  const char* name;
  bool roberta;
  BertHead head;
  bool pooler;
};

constexpr Arch kArchs[] = {
    {"BertModel", false, BertHead::kNone, true},
    {"BertForSequenceClassification", false, BertHead::kSequenceClassification, true},
    {"BertForTokenClassification", false, BertHead::kTokenClassification, false},
    {"BertForMaskedLM", false, BertHead::kMaskedLM, false},
    {"XLMRobertaModel", true, BertHead::kNone, true},
    {"XLMRobertaForSequenceClassification", true, BertHead::kSequenceClassification, false},
    {"XLMRobertaForTokenClassification", true, BertHead::kTokenClassification, false},
    {"XLMRobertaForMaskedLM", true, BertHead::kMaskedLM, false},
    {"RobertaModel", true, BertHead::kNone, true},
    {"RobertaForSequenceClassification", true, BertHead::kSequenceClassification, false},
    {"RobertaForTokenClassification", true, BertHead::kTokenClassification, false},
    {"RobertaForMaskedLM", true, BertHead::kMaskedLM, false},
    {"CamembertModel", true, BertHead::kNone, true},
    {"CamembertForSequenceClassification", true, BertHead::kSequenceClassification, false},
    {"CamembertForTokenClassification", true, BertHead::kTokenClassification, false},
    {"CamembertForMaskedLM", true, BertHead::kMaskedLM, false},
};

}  // namespace

BertTaskModelImpl& as_bert(torch::nn::Module& model, const std::string& feature) {
  auto* bert = dynamic_cast<BertTaskModelImpl*>(&model);
  if (!bert) {
    throw UnsupportedModel(fmt::format("{} is implemented for the BERT family (BERT, XLM-R, RoBERTa, CamemBERT) only",
                                       feature));
  }
  return *bert;
}

std::vector<std::string> bert_architectures() {
  std::vector<std::string> out;
  for (const auto& a : kArchs) out.push_back(a.name);
  return out;
}

std::optional<BertTaskModel> make_bert_model(const io::BertConfig& c, const std::string& architecture) {
  for (const auto& a : kArchs) {
    if (architecture != a.name) continue;
    if (a.roberta != (c.position_ids == io::PositionIds::kFromPaddingIdx)) {
      throw UnsupportedModel(fmt::format("{}: architecture {} does not match model_type '{}'", c.source, architecture,
                                         c.model_type));
    }
    return BertTaskModel(c, a.head, a.pooler);
  }
  return std::nullopt;
}

}  // namespace xling::models
