// Adapter directories: adapter_config.json + adapter_model.safetensors. Load, apply to a model,
// merge (LoRA), and save back. Three methods, told apart by "peft_type":
//  - LORA, PEFT's format: keys `base_model.model.<HF name>` + `.lora_A.weight` (r, in) /
//    `.lora_B.weight` (out, r) for each targeted Linear;
//  - PROMPT_TUNING, PEFT's format: key `prompt_embeddings` (N, D) (models/adapters.hpp);
//  - BOTTLENECK, xling's own (PEFT has no such method): keys `base_model.model.<HF name>` of the
//    adapter parameters (`...layer.3.output.adapter.down.weight`, models/adapters.hpp);
// each plus the full parameters of the `modules_to_save` modules (e.g. a trained classifier
// head), which replace the base model's: `base_model.model.<HF name>` (LORA, BOTTLENECK) or
// `base_model.<HF name>` (PROMPT_TUNING: PEFT wraps no tuner model around prompt methods).
// docs/architecture.md (PEFT section) has the formats.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "models/adapters.hpp"
#include "models/registry.hpp"

namespace xling::models {

// The adapter_config.json fields xling acts on. Features it does not implement (DoRA, LoRA
// bias, fan_in_fan_out, ...) are refused by load_adapter with a message naming the key.
struct LoraConfig : AdapterBase {
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
  std::map<std::string, int64_t> rank_pattern;  // module-name pattern -> r
  std::map<std::string, double> alpha_pattern;  // module-name pattern -> alpha

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

enum class PeftType { kLora, kPromptTuning, kBottleneck };

struct PeftAdapter {
  std::string dir;
  PeftType type = PeftType::kLora;
  // LORA's config. For the other types only its AdapterBase part is set (task_type,
  // base_model_name_or_path, modules_to_save), so `config.task_type` is right for every type.
  LoraConfig config;
  PromptTuningConfig prompt_tuning;  // PROMPT_TUNING
  BottleneckConfig bottleneck;       // BOTTLENECK
  // adapter_model.safetensors, keys as stored (zero-copy views of the mapping).
  std::map<std::string, torch::Tensor> tensors;
};

// Reads DIR/adapter_config.json and DIR/adapter_model.safetensors. Throws IoError (missing or
// malformed files, naming the file), UnsupportedModel (peft_type other than LORA,
// PROMPT_TUNING and BOTTLENECK; DoRA and other features xling does not implement),
// InvalidArgument (bad field values, tensors a method's file cannot hold).
PeftAdapter load_adapter(const std::string& dir);

struct ApplyReport {
  std::vector<std::string> lora_modules;  // HF names of the modules given LoRA
  std::vector<std::string> replaced;      // HF names of the parameters replaced (modules_to_save)
  std::vector<std::string> added;         // xling names of the parameters added (prompt_embeddings, adapters)
};

// Whether a parameter belongs to a PEFT method rather than to the model: LoRA's A/B
// (`<module>.lora_A.weight`), bottleneck adapters (`<layer>...adapter.<down|up>...`) or the soft
// prompt (`prompt_embeddings`). Trainers freeze by it; model files leave these out.
bool is_peft_parameter(const std::string& name);

// The prefix xling's module names carry and HF's do not: "roberta"/"bert" for base-model
// classes (HF's XLMRobertaModel names start at "embeddings."), "" for head classes, whose HF
// names already start with "roberta.".
std::string base_model_prefix(const torch::nn::Module& model);

// LORA: sets LoRA on every module `adapter` targets; PROMPT_TUNING: sets the model's prompt;
// BOTTLENECK: adds the adapters to every layer (replacing any) with the file's values. Then
// replaces the saved parameters (modules_to_save). The model keeps copies (the adapter can be
// applied to several models). HF name N is xling's `prefix + "." + N` (see base_model_prefix).
// Tensors take the weights' dtype and device. Everything is checked before anything changes;
// InvalidArgument, naming the file and key, for: target_modules matching no module, a target
// that is not a Linear or has no tensors in the file, a token_dim other than the model's
// hidden_size, missing adapter tensors, shape mismatches, and tensors naming nothing in the
// model. UnsupportedModel: prompt tuning and bottleneck adapters on a model outside the BERT family.
ApplyReport apply_adapter(torch::nn::Module& model, const PeftAdapter& adapter, const std::string& prefix);
ApplyReport apply_adapter(LoadedModel& model, const PeftAdapter& adapter);

// Folds every LoRA update into its base weight and removes the LoRA tensors; returns how many
// modules were merged.
int merge_adapter(torch::nn::Module& model);

// Writes DIR/adapter_config.json and DIR/adapter_model.safetensors in PEFT's format: the LoRA
// tensors of every module that has them, and every parameter of the modules named in
// config.modules_to_save, under `base_model.model.<HF name>` (`prefix` as for apply_adapter).
// Creates DIR if needed; each file is written atomically. The overloads below save the other
// methods the same way; all throw InvalidArgument when the model has nothing of the kind.
void save_adapter(const std::string& dir, torch::nn::Module& model, const LoraConfig& config,
                  const std::string& prefix);
// PEFT's PROMPT_TUNING adapter (peft.PeftModel.from_pretrained loads it): the model's prompt as
// `prompt_embeddings` and the modules_to_save as `base_model.<HF name>`. num_virtual_tokens,
// token_dim, num_layers and num_attention_heads are the model's (InvalidArgument when the
// config sets one to another non-zero value).
void save_adapter(const std::string& dir, torch::nn::Module& model, const PromptTuningConfig& config,
                  const std::string& prefix);
// xling's BOTTLENECK adapter. InvalidArgument when the model's adapters are not those `config`
// describes (kind, sizes, non_linearity).
void save_adapter(const std::string& dir, torch::nn::Module& model, const BottleneckConfig& config,
                  const std::string& prefix);

}  // namespace xling::models
