// Parameter-efficient methods besides LoRA, for the BERT family (BertTaskModel):
//  - PEFT prompt tuning: N trained virtual-token vectors prepended to the word embeddings
//    (the parameter "prompt_embeddings", (N, D); forward semantics in bert.hpp BertInputs).
//  - Bottleneck adapters as AdapterHub defines them (layers/adapter.hpp): "pfeiffer", one after
//    each layer's FFN output dense, or "houlsby", also one after the attention output dense.
//    Parameters "<layer>.output.adapter.{down,up}.{weight,bias}" and
//    "<layer>.attention.output.adapter.…", so a trainer freezes all but names holding ".adapter.".
// Their configs (the adapter_config.json of each) and how to add fresh ones to a loaded model;
// files are read, applied and written by models/peft.hpp (load_adapter / apply_adapter /
// save_adapter), with docs/architecture.md describing the formats.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/json.hpp"
#include "io/config.hpp"

namespace xling::models {

// The adapter_config.json fields every method has.
struct AdapterBase {
  std::string task_type;  // PEFT's: "SEQ_CLS", "TOKEN_CLS", "FEATURE_EXTRACTION", ...; "" = null
  std::string base_model_name_or_path;
  // Modules saved whole with the adapter (a trained head): HF module names, or their last
  // dotted components ("classifier").
  std::vector<std::string> modules_to_save;
};

// The AdapterBase fields of every method's adapter_config.json: read (null = absent) and
// written as PEFT writes them (null when empty).
void parse_adapter_base(const core::JsonFields& f, AdapterBase& c);
void write_adapter_base(const AdapterBase& c, nlohmann::json& j);

// PEFT's PromptTuningConfig (peft_type "PROMPT_TUNING"), one transformer submodule (encoders).
struct PromptTuningConfig : AdapterBase {
  int64_t num_virtual_tokens = 0;  // N
  int64_t token_dim = 0;           // D, the model's hidden_size
  int64_t num_attention_heads = 0, num_layers = 0;  // written for PEFT; not used by the forward
  std::string prompt_tuning_init = "RANDOM";        // how the prompt started (RANDOM, TEXT, SAMPLE_VOCAB)

  // InvalidArgument naming `source` and the key for missing / bad values; UnsupportedModel for
  // num_transformer_submodules != 1 (encoder-decoder prompts).
  static PromptTuningConfig from_json(const nlohmann::json& j, const std::string& source);
  nlohmann::json to_json() const;  // what PEFT 0.21 writes; peft.PeftModel.from_pretrained loads it
};

enum class BottleneckKind { kPfeiffer, kHoulsby };

// xling's own adapter_config.json for bottleneck adapters (peft_type "BOTTLENECK"; PEFT has none).
struct BottleneckConfig : AdapterBase {
  BottleneckKind kind = BottleneckKind::kPfeiffer;  // "adapter_kind": "pfeiffer" | "houlsby"
  double reduction_factor = 16;                      // bottleneck = max(1, floor(D / reduction_factor)), as AdapterHub
  // HF activation name (relu, swish/silu, gelu, gelu_new, tanh, ...). AdapterHub's defaults:
  // relu for pfeiffer (SeqBnConfig), swish for houlsby (DoubleSeqBnConfig).
  std::string non_linearity = "relu";

  int64_t bottleneck_size(int64_t hidden) const;
  io::Activation activation(const std::string& source) const;  // InvalidArgument naming `source` when unknown
  static BottleneckConfig from_json(const nlohmann::json& j, const std::string& source);
  nlohmann::json to_json() const;
};

const char* bottleneck_kind_name(BottleneckKind kind);  // "pfeiffer" / "houlsby"

// Adds a fresh prompt of `num_virtual_tokens` rows to a BERT-family model, initialised as PEFT's
// prompt_tuning_init RANDOM (nn.Embedding's default, N(0, 1); drawn on the CPU from `seed`), in
// the word embeddings' dtype and device. Replaces a prompt already there. UnsupportedModel for
// other model families, InvalidArgument for num_virtual_tokens < 1.
void add_prompt_tuning(torch::nn::Module& model, int64_t num_virtual_tokens, uint64_t seed);

// Adds fresh bottleneck adapters to every layer of a BERT-family model and returns how many
// (layers, or 2 x layers for houlsby). down ~ N(0, 0.02) with zero bias (AdapterHub's "bert"
// init), up = 0 (as AdapterHub's "mam_adapter" init): the model's outputs are unchanged until
// up is trained. Drawn on the CPU from `seed`, then given the layer weights' dtype and device.
// Replaces adapters already there. UnsupportedModel for other families; InvalidArgument for a
// bad reduction_factor or non_linearity.
int add_bottleneck_adapters(torch::nn::Module& model, const BottleneckConfig& config, uint64_t seed);

// The adapter parameters `config` gives `model` (xling's parameter names -> shapes), without
// changing the model. UnsupportedModel for models outside the BERT family.
std::map<std::string, std::vector<int64_t>> bottleneck_parameter_shapes(torch::nn::Module& model,
                                                                         const BottleneckConfig& config);

}  // namespace xling::models
