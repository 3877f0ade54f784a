// Writing trained models in the layouts their Python libraries load: an HF model directory
// (config.json + model.safetensors + tokenizer files) and the sentence-transformers modules
// around it. Every file is written atomically (temporary file + rename).
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace xling::train {

using NamedTensorList = std::vector<std::pair<std::string, torch::Tensor>>;

void write_json(const std::filesystem::path& path, const nlohmann::json& j);

// Tensors as float32 safetensors (any device/dtype in; detached copies), names as given.
void write_tensors(const std::filesystem::path& path, const NamedTensorList& named);

// The module's parameters under their HF names (base-model classes without the "roberta."/
// "bert." prefix, as HF saves them), without PEFT tensors (LoRA A/B, bottleneck adapters, soft
// prompts), sorted by name.
NamedTensorList model_tensors(torch::nn::Module& module);

// source_dir/config.json with `edit` applied, written to dir/config.json; the tokenizer files
// of source_dir copied (when dir is another directory). Creates dir.
void write_config_and_tokenizer(const std::filesystem::path& dir, const std::string& source_dir,
                                const std::function<void(nlohmann::json&)>& edit);

// sentence-transformers modules around the transformer at the root of `dir`: modules.json
// (Transformer, Pooling [, Normalize]), sentence_bert_config.json, 1_Pooling/config.json,
// 2_Normalize, config_sentence_transformers.json.
struct SentenceModules {
  std::string pooling = "mean";  // sentence-transformers' pooling_mode name: cls, mean, max, ...
  std::size_t dimension = 0;
  bool include_prompt = true, normalize = false;
  std::size_t max_seq_length = 512;
  bool lower_case = false;
};
void write_sentence_modules(const std::filesystem::path& dir, const SentenceModules& m);

}  // namespace xling::train
