// Prompt tuning and bottleneck adapters: configs and fresh adapters (see adapters.hpp).
#include "models/adapters.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/json.hpp"
#include "layers/adapter.hpp"
#include "models/bert.hpp"
#include "xling/errors.hpp"

namespace xling::models {
namespace {

constexpr double kDownInitStd = 0.02;  // AdapterHub's init_bert_weights

// The encoder layers with their module names ("roberta.encoder.layer.3").
std::vector<std::pair<std::string, BertLayerImpl*>> bert_layers(torch::nn::Module& model) {
  std::vector<std::pair<std::string, BertLayerImpl*>> out;
  for (const auto& item : model.named_modules()) {
    if (auto* layer = item.value()->as<BertLayerImpl>()) out.emplace_back(item.key(), layer);
  }
  return out;
}

std::vector<std::string> adapter_groups(BottleneckKind kind) {
  if (kind == BottleneckKind::kHoulsby) return {"attention.output", "output"};
  return {"output"};
}

nlohmann::json null_if_empty(const std::string& s) { return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s); }

nlohmann::json list_or_null(const std::vector<std::string>& v) {
  return v.empty() ? nlohmann::json(nullptr) : nlohmann::json(v);
}

}  // namespace

void parse_adapter_base(const core::JsonFields& f, AdapterBase& c) {
  c.task_type = f.string_or("task_type", "");  // null reads as absent
  c.base_model_name_or_path = f.string_or("base_model_name_or_path", "");
  c.modules_to_save = f.string_list("modules_to_save");
}

void write_adapter_base(const AdapterBase& c, nlohmann::json& j) {
  j["task_type"] = null_if_empty(c.task_type);
  j["base_model_name_or_path"] = null_if_empty(c.base_model_name_or_path);
  j["modules_to_save"] = list_or_null(c.modules_to_save);
}

PromptTuningConfig PromptTuningConfig::from_json(const nlohmann::json& j, const std::string& source) {
  core::JsonFields f(j, source);
  if (f.string("peft_type") != "PROMPT_TUNING") f.fail("peft_type", "expected PROMPT_TUNING");
  PromptTuningConfig c;
  parse_adapter_base(f, c);
  c.num_virtual_tokens = f.positive("num_virtual_tokens");
  c.token_dim = f.positive("token_dim");
  const int64_t submodules = f.positive_or("num_transformer_submodules", 1);
  if (submodules != 1) {
    throw UnsupportedModel(fmt::format("{}: num_transformer_submodules is {}; xling's prompt tuning covers encoders (1)",
                                       source, submodules));
  }
  c.num_attention_heads = f.integer_or("num_attention_heads", 0);
  c.num_layers = f.integer_or("num_layers", 0);
  c.prompt_tuning_init = f.string_or("prompt_tuning_init", "RANDOM");
  return c;
}

nlohmann::json PromptTuningConfig::to_json() const {
  nlohmann::json j;
  j["peft_type"] = "PROMPT_TUNING";
  write_adapter_base(*this, j);
  j["auto_mapping"] = nullptr;
  j["inference_mode"] = true;
  j["num_virtual_tokens"] = num_virtual_tokens;
  j["token_dim"] = token_dim;
  j["num_transformer_submodules"] = 1;
  j["num_attention_heads"] = num_attention_heads;
  j["num_layers"] = num_layers;
  j["prompt_tuning_init"] = prompt_tuning_init;
  j["prompt_tuning_init_text"] = nullptr;
  j["tokenizer_name_or_path"] = nullptr;
  j["tokenizer_kwargs"] = nullptr;
  j["revision"] = nullptr;
  return j;
}

const char* bottleneck_kind_name(BottleneckKind kind) {
  return kind == BottleneckKind::kHoulsby ? "houlsby" : "pfeiffer";
}

int64_t BottleneckConfig::bottleneck_size(int64_t hidden) const {
  return std::max<int64_t>(1, static_cast<int64_t>(std::floor(static_cast<double>(hidden) / reduction_factor)));
}

io::Activation BottleneckConfig::activation(const std::string& source) const {
  const nlohmann::json j = {{"non_linearity", non_linearity}};
  return io::parse_activation(core::JsonFields(j, source), "non_linearity", "relu");
}

BottleneckConfig BottleneckConfig::from_json(const nlohmann::json& j, const std::string& source) {
  core::JsonFields f(j, source);
  if (f.string("peft_type") != "BOTTLENECK") f.fail("peft_type", "expected BOTTLENECK");
  BottleneckConfig c;
  parse_adapter_base(f, c);
  const std::string kind = f.string("adapter_kind");
  if (kind == "pfeiffer") c.kind = BottleneckKind::kPfeiffer;
  else if (kind == "houlsby") c.kind = BottleneckKind::kHoulsby;
  else f.fail("adapter_kind", "expected \"pfeiffer\" or \"houlsby\"");
  c.reduction_factor = f.number("reduction_factor");
  if (!(c.reduction_factor > 0) || !std::isfinite(c.reduction_factor)) f.fail("reduction_factor", "expected a number > 0");
  c.non_linearity = f.string_or("non_linearity", "relu");
  c.activation(source);  // validates the name
  return c;
}

nlohmann::json BottleneckConfig::to_json() const {
  nlohmann::json j;
  j["peft_type"] = "BOTTLENECK";
  j["adapter_kind"] = bottleneck_kind_name(kind);
  if (reduction_factor == std::floor(reduction_factor)) j["reduction_factor"] = static_cast<int64_t>(reduction_factor);
  else j["reduction_factor"] = reduction_factor;
  j["non_linearity"] = non_linearity;
  write_adapter_base(*this, j);
  return j;
}

void add_prompt_tuning(torch::nn::Module& model, int64_t num_virtual_tokens, uint64_t seed) {
  auto& bert = as_bert(model, "prompt tuning");
  if (num_virtual_tokens < 1) {
    throw InvalidArgument(fmt::format("prompt tuning needs at least 1 virtual token, got {}", num_virtual_tokens));
  }
  const auto& words = bert.backbone->embeddings->word_embeddings->weight;
  torch::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto prompt = torch::empty({num_virtual_tokens, words.size(1)}, torch::kFloat32).normal_(0.0, 1.0, gen);
  bert.set_prompt(prompt.to(words.options()));
}

std::map<std::string, std::vector<int64_t>> bottleneck_parameter_shapes(torch::nn::Module& model,
                                                                         const BottleneckConfig& config) {
  const auto& bert = as_bert(model, "bottleneck adapters");
  const int64_t d = bert.config.hidden_size, b = config.bottleneck_size(d);
  std::map<std::string, std::vector<int64_t>> out;
  for (const auto& [name, layer] : bert_layers(model)) {
    for (const auto& group : adapter_groups(config.kind)) {
      const std::string p = name + "." + group + ".adapter.";
      out[p + "down.weight"] = {b, d};
      out[p + "down.bias"] = {b};
      out[p + "up.weight"] = {d, b};
      out[p + "up.bias"] = {d};
    }
  }
  return out;
}

int add_bottleneck_adapters(torch::nn::Module& model, const BottleneckConfig& config, uint64_t seed) {
  auto& bert = as_bert(model, "bottleneck adapters");
  if (!(config.reduction_factor > 0) || !std::isfinite(config.reduction_factor)) {
    throw InvalidArgument(fmt::format("bottleneck adapters: reduction_factor must be > 0, got {}", config.reduction_factor));
  }
  const io::Activation act = config.activation("bottleneck adapter config");
  const int64_t d = bert.config.hidden_size, b = config.bottleneck_size(d);
  const bool houlsby = config.kind == BottleneckKind::kHoulsby;
  torch::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  int added = 0;
  auto make = [&](const torch::TensorOptions& opts) {
    layers::BottleneckAdapter a(d, b, act, /*norm_before=*/!houlsby);
    a->down->weight.set_data(torch::empty({b, d}, torch::kFloat32).normal_(0.0, kDownInitStd, gen).to(opts));
    a->down->bias.set_data(torch::zeros({b}, opts));
    a->up->weight.set_data(torch::zeros({d, b}, opts));
    a->up->bias.set_data(torch::zeros({d}, opts));
    ++added;
    return a;
  };
  for (const auto& [name, layer] : bert_layers(model)) {
    const auto opts = layer->attn_out->weight.options();
    auto attention = houlsby ? make(opts) : layers::BottleneckAdapter(nullptr);
    layer->set_adapters(attention, make(opts));
  }
  return added;
}

}  // namespace xling::models
