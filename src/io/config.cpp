// Config registry and shared fields (see config.hpp). This file and the family config
// files are the only places where model_type strings appear.
#include "io/config.hpp"

#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "io/bert_config.hpp"
#include "io/decoder_config.hpp"
#include "io/seq2seq_config.hpp"
#include "xling/errors.hpp"

namespace xling::io {

Activation parse_activation(const core::JsonFields& fields, const std::string& key, const std::string& fallback) {
  std::string name = fields.string_or(key, fallback);
  if (name == "gelu") return Activation::kGelu;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return Activation::kGeluTanh;
  if (name == "relu") return Activation::kRelu;
  if (name == "silu" || name == "swish") return Activation::kSilu;
  if (name == "gelu_fast") return Activation::kGeluFast;
  if (name == "quick_gelu") return Activation::kQuickGelu;
  if (name == "tanh") return Activation::kTanh;
  fields.fail(key, "unsupported activation (supported: gelu, gelu_new, gelu_pytorch_tanh, relu, silu, swish, "
                   "gelu_fast, quick_gelu, tanh)");
}

const char* activation_name(Activation act) {
  switch (act) {
    case Activation::kGelu: return "gelu";
    case Activation::kGeluTanh: return "gelu_new";
    case Activation::kRelu: return "relu";
    case Activation::kSilu: return "silu";
    case Activation::kGeluFast: return "gelu_fast";
    case Activation::kQuickGelu: return "quick_gelu";
    case Activation::kTanh: return "tanh";
  }
  return "?";
}

void parse_common_fields(const core::JsonFields& f, ModelConfig& c) {
  c.source = f.source();
  c.model_type = f.string("model_type");
  c.architectures = f.string_list("architectures");
  c.dtype = f.has("dtype") ? f.string("dtype") : f.string_or("torch_dtype", "float32");
  c.pad_token_id = f.optional_integer("pad_token_id");
  c.bos_token_id = f.optional_integer("bos_token_id");
  c.eos_token_ids = f.integer_list("eos_token_id");
  c.tie_word_embeddings = f.boolean_or("tie_word_embeddings", true);
  c.problem_type = f.string_or("problem_type", "");
  if (!c.problem_type.empty() && c.problem_type != "regression" && c.problem_type != "single_label_classification" &&
      c.problem_type != "multi_label_classification") {
    f.fail("problem_type", "expected regression, single_label_classification or multi_label_classification");
  }
  if (f.has("id2label")) {
    const auto& map = f.raw("id2label");
    if (!map.is_object()) f.fail("id2label", "expected an object {\"0\": \"LABEL\"}");
    for (const auto& [k, v] : map.items()) {
      int64_t id = -1;
      try {
        std::size_t used = 0;
        id = std::stoll(k, &used);
        if (used != k.size()) id = -1;
      } catch (const std::exception&) {
        id = -1;
      }
      if (id < 0) f.fail("id2label", fmt::format("key '{}' is not a non-negative integer", k));
      if (!v.is_string()) f.fail("id2label", fmt::format("label for id {} is not a string", k));
      c.id2label[id] = v.get<std::string>();
    }
    for (int64_t i = 0; i < static_cast<int64_t>(c.id2label.size()); ++i) {
      if (!c.id2label.count(i)) f.fail("id2label", fmt::format("ids must be 0..{} without gaps; {} is missing",
                                                               c.id2label.size() - 1, i));
    }
  }
  if (f.has("num_labels")) {
    c.num_labels = f.positive("num_labels");
    if (!c.id2label.empty() && static_cast<int64_t>(c.id2label.size()) != c.num_labels) {
      f.fail("num_labels", fmt::format("disagrees with id2label, which has {} labels", c.id2label.size()));
    }
  } else if (!c.id2label.empty()) {
    c.num_labels = static_cast<int64_t>(c.id2label.size());
  }
}

std::vector<std::pair<std::string, std::string>> GenericConfig::summary() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const char* key : {"vocab_size", "hidden_size", "d_model", "num_hidden_layers", "num_layers",
                          "encoder_layers", "decoder_layers", "num_attention_heads", "intermediate_size"}) {
    auto it = raw.find(key);
    if (it != raw.end() && it->is_number_integer()) out.emplace_back(key, std::to_string(it->get<int64_t>()));
  }
  return out;
}

ConfigRegistry::ConfigRegistry() {
  register_bert_configs(*this);
  register_seq2seq_configs(*this);
  register_decoder_configs(*this);
}

ConfigRegistry& ConfigRegistry::instance() {
  static ConfigRegistry registry;
  return registry;
}

void ConfigRegistry::add(const std::string& model_type, const std::string& family, ConfigParser parser) {
  parsers_[model_type] = Family{family, std::move(parser)};
}

bool ConfigRegistry::has(const std::string& model_type) const { return parsers_.count(model_type) > 0; }

std::vector<std::string> ConfigRegistry::model_types() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : parsers_) out.push_back(k);
  return out;
}

std::unique_ptr<ModelConfig> ConfigRegistry::parse(const nlohmann::json& json, const std::string& source) const {
  core::JsonFields fields(json, source);
  std::string model_type = fields.string("model_type");
  auto it = parsers_.find(model_type);
  if (it == parsers_.end()) {
    throw UnsupportedModel(fmt::format("{}: model_type '{}' is not supported (supported: {})", source, model_type,
                                       fmt::join(model_types(), ", ")));
  }
  auto config = it->second.parser(fields);
  config->family = it->second.family;
  return config;
}

namespace {

std::string config_path(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return (std::filesystem::path(path) / "config.json").string();
  return path;
}

}  // namespace

std::unique_ptr<ModelConfig> load_config(const std::string& path) {
  std::string file = config_path(path);
  return ConfigRegistry::instance().parse(core::read_json_file(file), file);
}

std::unique_ptr<ModelConfig> load_config_any(const std::string& path) {
  std::string file = config_path(path);
  return parse_config_any(core::read_json_file(file), file);
}

std::unique_ptr<ModelConfig> parse_config_any(nlohmann::json json, const std::string& file) {
  core::JsonFields fields(json, file);
  const auto& registry = ConfigRegistry::instance();
  if (registry.has(fields.string("model_type"))) return registry.parse(json, file);
  auto config = std::make_unique<GenericConfig>();
  parse_common_fields(fields, *config);
  config->family = "";
  config->raw = std::move(json);
  return config;
}

}  // namespace xling::io
