// Test helper: random weights for a model directory that holds only config.json (and a
// tokenizer), initialised as HF does from the config (seeded) and written as model.safetensors
// in fp32, so that the CLI can load the directory like a real checkpoint.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "io/safetensors_writer.hpp"
#include "models/registry.hpp"

namespace xling::testing {

inline void write_random_weights(const std::string& dir, uint64_t seed) {
  auto opts = models::LoadOptions::for_class("", false);
  opts.random_init = true;
  opts.init_seed = seed;
  auto m = models::load_model(dir, opts);
  std::vector<torch::Tensor> keep;
  std::vector<io::TensorToWrite> tensors;
  for (const auto& p : m.module->named_parameters()) {
    keep.push_back(p.value().detach().contiguous().to(torch::kFloat32));
    tensors.push_back({p.key(), DType::kF32, keep.back().sizes().vec(), keep.back().data_ptr(),
                       static_cast<std::size_t>(keep.back().nbytes())});
  }
  io::write_safetensors(dir + "/model.safetensors", tensors);
}

}  // namespace xling::testing
