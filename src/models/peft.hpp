// PEFT LoRA adapters in PEFT's own on-disk format: a directory with adapter_config.json and
// adapter_model.safetensors whose keys are `base_model.model.<HF name>` + `.lora_A.weight`
// (r, in) / `.lora_B.weight` (out, r) for each targeted Linear, and the full parameters of
// the `modules_to_save` modules (e.g. a trained classifier head), which replace the base
// model's. Load, apply to a model, merge into its weights, and save back.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "models/registry.hpp"

namespace xling::models {

// The adapter_config.json fields xling acts on. Features it does not implement (DoRA, LoRA
// bias, fan_in_fan_out, ...) are refused by load_adapter with a message naming the key.
struct LoraConfig {
  int64_t r = 8;
  double lora_alpha = 8;
  bool use_rslora = false;  // scaling = alpha / sqrt(r) instead of alpha / r
  double lora_dropout = 0;
  std::string bias = "none";  // "all"/"lora_only": the trained biases are in the file, applied like modules_to_save
  // A list selects modules whose name equals an entry or ends with "." + entry; a single string
  // (target_modules_regex) is a regular expression the whole module name must match.
  std::vector<std::string> target_modules;
  std::optional<std::string> target_modules_regex;
  std::vector<std::string> exclude_modules;  // same matching rules as target_modules
  std::optional<std::string> exclude_modules_regex;
  std::vector<int64_t> layers_to_transform;  // empty = every layer
  std::vector<std::string> layers_pattern;   // names before the layer index; empty = any
  std::vector<std::string> modules_to_save;
  std::map<std::string, int64_t> rank_pattern;  // module-name pattern -> r
  std::map<std::string, double> alpha_pattern;  // module-name pattern -> alpha
  std::string task_type;
  std::string base_model_name_or_path;

  // Whether the module named `name` (HF name, no "base_model.model.") gets LoRA.
  bool targets(const std::string& name) const;
  // The update's scale for the module `name` (rank_pattern / alpha_pattern applied).
  double scaling(const std::string& name) const;
  int64_t rank(const std::string& name) const;

  // Parses adapter_config.json's object; `source` names the file in errors.
  static LoraConfig from_json(const nlohmann::json& j, const std::string& source);
  // PEFT's adapter_config.json (loadable by peft.PeftModel.from_pretrained).
  nlohmann::json to_json() const;
};

struct PeftAdapter {
  std::string dir;
  LoraConfig config;
  // adapter_model.safetensors, keys as stored (zero-copy views of the mapping).
  std::map<std::string, torch::Tensor> tensors;
};

// Reads DIR/adapter_config.json and DIR/adapter_model.safetensors. Throws IoError (missing or
// malformed files), UnsupportedModel (peft_type other than LORA, DoRA and other features xling
// does not implement), InvalidArgument (bad field values).
PeftAdapter load_adapter(const std::string& dir);

struct ApplyReport {
  std::vector<std::string> lora_modules;  // HF names of the modules given LoRA
  std::vector<std::string> replaced;      // HF names of the parameters replaced (modules_to_save)
};

// The prefix xling's module names carry and HF's do not: "roberta"/"bert" for base-model
// classes (HF's XLMRobertaModel names start at "embeddings."), "" for head classes, whose HF
// names already start with "roberta.".
std::string base_model_prefix(const torch::nn::Module& model);

// Sets LoRA on every module `adapter` targets and replaces the saved parameters (copies: the
// adapter can be applied to several models). HF name N is xling's `prefix + "." + N` (see
// base_model_prefix). Tensors take the weights' dtype and device. Everything is checked before
// anything changes; InvalidArgument, naming the file and key, for: target_modules matching no
// module, a target that is not a Linear or has no tensors in the file, shape mismatches, and
// tensors naming nothing in the model.
ApplyReport apply_adapter(torch::nn::Module& model, const PeftAdapter& adapter, const std::string& prefix);
ApplyReport apply_adapter(LoadedModel& model, const PeftAdapter& adapter);

// Folds every LoRA update into its base weight and removes the LoRA tensors; returns how many
// modules were merged.
int merge_adapter(torch::nn::Module& model);

// Writes DIR/adapter_config.json and DIR/adapter_model.safetensors in PEFT's format: the LoRA
// tensors of every module that has them, and every parameter of the modules named in
// config.modules_to_save, under `base_model.model.<HF name>` (`prefix` as for apply_adapter).
// Creates DIR if needed; each file is written atomically.
void save_adapter(const std::string& dir, torch::nn::Module& model, const LoraConfig& config,
                  const std::string& prefix);

}  // namespace xling::models
