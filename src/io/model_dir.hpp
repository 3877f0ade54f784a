// What a model directory holds, for `xling info` and for loaders that must pick files:
// weights, configs, tokenizer kind and vocabulary size, sentence-transformers modules,
// PEFT adapter. Reads only small files (and tokenizer.json, once).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace xling::io {

struct TokenizerInfo {
  std::string kind;   // "Unigram", "BPE", "WordPiece", "WordLevel", "sentencepiece", "none"
  std::string file;   // the file it came from
  std::optional<int64_t> vocab_size;  // model vocabulary + added tokens not in it
};

struct ModelDirInfo {
  std::string path;
  std::vector<std::pair<std::string, uint64_t>> files;  // (name relative to path, bytes), sorted
  bool has_config = false;
  bool has_generation_config = false;
  bool is_sentence_transformers = false;  // modules.json
  bool is_peft_adapter = false;           // adapter_config.json
  TokenizerInfo tokenizer;
};

// Throws IoError when `path` is not a readable directory, or tokenizer.json is malformed.
ModelDirInfo inspect_model_dir(const std::string& path);

}  // namespace xling::io
