// config.json parsed once into a typed, validated struct per model family. A family
// registers a parser for its model_type strings (config_registry.cpp is the only list);
// model code reads typed fields, never JSON or strings, at run time.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/json.hpp"

namespace xling::io {

enum class Activation { kGelu, kGeluTanh, kRelu, kSilu, kGeluFast, kQuickGelu, kTanh };

// Parses HF's `hidden_act` names: gelu, gelu_new/gelu_pytorch_tanh (tanh approximation),
// relu, silu/swish, gelu_fast, quick_gelu, tanh. Throws InvalidArgument naming key + value.
Activation parse_activation(const core::JsonFields& fields, const std::string& key, const std::string& fallback);
const char* activation_name(Activation act);

// Fields every HF config shares; families derive and add their own.
struct ModelConfig {
  virtual ~ModelConfig() = default;

  std::string source;                      // path of config.json
  std::string model_type;                  // as written ("xlm-roberta")
  std::string family;                      // registry family ("bert")
  std::vector<std::string> architectures;  // e.g. XLMRobertaForSequenceClassification
  std::string dtype;                       // "float32" ("dtype", or older "torch_dtype")
  std::map<int64_t, std::string> id2label;
  std::optional<int64_t> pad_token_id;
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;
  bool tie_word_embeddings = true;
  std::string problem_type;  // "", single_label_classification, multi_label_classification, regression
  int64_t num_labels = 2;    // from id2label, or num_labels, HF's default 2

  // (name, value) pairs of the family's main sizes, for `xling info`.
  virtual std::vector<std::pair<std::string, std::string>> summary() const = 0;
};

// A config.json whose model_type has no registered family: common fields only. `xling info`
// shows it; model builders refuse it with UnsupportedModel.
struct GenericConfig : ModelConfig {
  nlohmann::json raw;
  std::vector<std::pair<std::string, std::string>> summary() const override;
};

using ConfigParser = std::function<std::unique_ptr<ModelConfig>(const core::JsonFields& fields)>;

// model_type -> (family, parser). Filled once with the built-in families.
class ConfigRegistry {
 public:
  static ConfigRegistry& instance();
  void add(const std::string& model_type, const std::string& family, ConfigParser parser);
  bool has(const std::string& model_type) const;
  std::vector<std::string> model_types() const;
  // Parses with the registered family; UnsupportedModel when model_type is unknown.
  std::unique_ptr<ModelConfig> parse(const nlohmann::json& json, const std::string& source) const;

 private:
  ConfigRegistry();
  struct Family {
    std::string family;
    ConfigParser parser;
  };
  std::map<std::string, Family> parsers_;
};

// Reads `path` (config.json or a directory holding it) into its family's typed struct.
// Throws IoError (unreadable/malformed), InvalidArgument (bad values, naming key and value),
// UnsupportedModel (unknown model_type, listing the supported ones).
std::unique_ptr<ModelConfig> load_config(const std::string& path);
// Like load_config, but an unknown model_type yields a GenericConfig instead of throwing.
std::unique_ptr<ModelConfig> load_config_any(const std::string& path);
// load_config_any on an already-parsed document.
std::unique_ptr<ModelConfig> parse_config_any(nlohmann::json json, const std::string& source);

// Fills the shared ModelConfig fields; family parsers call it first.
void parse_common_fields(const core::JsonFields& fields, ModelConfig& config);

}  // namespace xling::io
