// Model directory -> runnable model: parses config.json, picks the architecture class
// (config "architectures" or an override), builds it and loads its weights zero-copy with
// strict key checks. The only place that maps architecture names to builders.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "io/checkpoint.hpp"
#include "io/config.hpp"
#include "models/encoder_outputs.hpp"

namespace xling::models {

struct LoadReport {
  std::vector<std::string> initialized;  // parameters not in the checkpoint, initialised as HF does
  std::vector<std::string> unused;       // checkpoint tensors the class does not use
};

struct LoadedModel {
  std::string architecture;
  std::unique_ptr<io::ModelConfig> config;
  std::shared_ptr<torch::nn::Module> module;
  std::function<NamedTensors(const NamedTensors&)> forward;  // inputs on any device; outputs on `device`
  torch::Device device = torch::kCPU;
  LoadReport report;
};

struct LoadOptions {
  std::string architecture;  // "" = the first of config.json "architectures"
  bool strict = true;        // inference: missing or unexpected weights are an error
  // Compute dtype of the floating-point weights. Checkpoint tensors already in it are used
  // zero-copy from the mapping; others are converted once (bf16/fp16 -> fp32 is exact).
  torch::ScalarType dtype = torch::kFloat32;
  // Where the model runs: CPU weights stay mmapped; on CUDA they are copied to the device
  // and forward() moves its inputs there (outputs stay on the device).
  torch::Device device = torch::kCPU;
  // Training from scratch: ignore any weights in the directory and initialise every parameter
  // as HF's _init_weights (normal(0, initializer_range), zero biases and padding rows, unit
  // LayerNorms), seeded by init_seed. Only config.json is read.
  bool random_init = false;
  uint64_t init_seed = 0;  // seed of the HF-style init of weights absent from the checkpoint (strict = false)
  // Fine-tuning: replace the config's labels (id2label, num_labels) and problem_type before the
  // head is built. Empty = keep the config's.
  std::vector<std::string> labels;
  std::string problem_type;

  static LoadOptions for_class(std::string arch, bool strict_keys) {
    LoadOptions o;
    o.architecture = std::move(arch);
    o.strict = strict_keys;
    return o;
  }
  static LoadOptions with_dtype(torch::ScalarType d, torch::Device dev = torch::kCPU) {
    LoadOptions o;
    o.dtype = d;
    o.device = dev;
    return o;
  }
};

// "f32"/"float32", "bf16"/"bfloat16", "f16"/"float16" -> the torch dtype; anything else throws
// InvalidArgument naming the accepted values.
torch::ScalarType parse_compute_dtype(const std::string& name);
// "cpu", "cuda" or "cuda:N" -> the device; InvalidArgument for other names, and for CUDA in a
// build without CUDA or on a machine without a GPU (the message says which).
torch::Device parse_device(const std::string& name);

// Throws IoError (no config.json / weights), UnsupportedModel (architecture not supported,
// listing the supported ones), InvalidArgument (missing/unexpected weights, listed; shape
// mismatches naming the tensor).
LoadedModel load_model(const std::string& dir, const LoadOptions& options = {});

std::vector<std::string> supported_architectures();

// Copies weights from `ckpt` into `module`'s parameters (zero-copy for aligned data already
// in `dtype`; other float dtypes are converted). A parameter named P is looked up as P, then without `prefix + "."`
// (base-model checkpoints loaded into a head class). `tied` lists checkpoint names that are
// aliases of other weights (ignored when present). `fallbacks`: other checkpoint names tried,
// in order, for a parameter its own name does not find.
LoadReport load_weights(torch::nn::Module& module, const io::Checkpoint& ckpt, const std::string& prefix,
                        const std::vector<std::string>& tied, bool strict,
                        torch::ScalarType dtype = torch::kFloat32,
                        const std::map<std::string, std::vector<std::string>>& fallbacks = {});

}  // namespace xling::models
