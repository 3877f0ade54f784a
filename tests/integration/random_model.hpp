// Test helper: random weights for a model directory that holds only config.json (and a
// tokenizer), initialised as HF does from the config (seeded) and written as model.safetensors
// in fp32, so that the CLI can load the directory like a real checkpoint.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/json.hpp"

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

// A random-weight Qwen2 model in `dir` over the byte-level BPE fixture tokenizer (ids 0-6001,
// EOS <|im_end|> = 2, pad 0), with `chat_template` in tokenizer_config.json ("" = none).
inline std::string make_random_qwen2(const std::filesystem::path& dir, const std::string& fixtures,
                                     const std::string& chat_template, int64_t max_positions = 512) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  const fs::path tok = fs::path(fixtures) / "tokenizers" / "byte_level_bpe";
  fs::copy_file(tok / "tokenizer.json", dir / "tokenizer.json", fs::copy_options::overwrite_existing);
  auto tcfg = core::read_json_file((tok / "tokenizer_config.json").string());
  if (!chat_template.empty()) tcfg["chat_template"] = chat_template;
  std::ofstream(dir / "tokenizer_config.json", std::ios::binary) << tcfg.dump(2);
  nlohmann::json cfg = {{"model_type", "qwen2"}, {"architectures", {"Qwen2ForCausalLM"}}, {"vocab_size", 6016},
                        {"hidden_size", 32}, {"intermediate_size", 64}, {"num_hidden_layers", 2},
                        {"num_attention_heads", 4}, {"num_key_value_heads", 2}, {"max_position_embeddings", max_positions},
                        {"rope_theta", 1000000.0}, {"tie_word_embeddings", true}, {"eos_token_id", 2}, {"pad_token_id", 0},
                        {"initializer_range", 0.5}};
  std::ofstream(dir / "config.json", std::ios::binary) << cfg.dump(2);
  write_random_weights(dir.string(), 5);
  return dir.string();
}

}  // namespace xling::testing
