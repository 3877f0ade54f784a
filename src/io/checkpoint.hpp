// A model's weights as HF stores them: one `model.safetensors`, or shards listed in
// `model.safetensors.index.json`, or any single .safetensors file. All shards are mmapped;
// lookups return zero-copy TensorViews. Tied weights: transformers >= 5 stores one name
// per tied group, older checkpoints store every alias -- resolve() accepts both.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "io/safetensors.hpp"

namespace xling::io {

class Checkpoint {
 public:
  // `path`: a .safetensors file or a model directory. `stem` picks the file name inside a
  // directory ("model" -> model.safetensors / model.safetensors.index.json; PEFT adapters
  // use "adapter_model"). Throws IoError (missing/malformed files) or UnsupportedModel
  // (a pytorch_model.bin-only directory, with the converter command in the message).
  static Checkpoint open(const std::string& path, const std::string& stem = "model");

  const std::string& path() const { return path_; }
  const std::vector<std::string>& files() const { return files_; }  // shard paths
  std::vector<std::string> names() const;                            // sorted
  std::size_t size() const { return entries_.size(); }

  const TensorView* find(std::string_view name) const;
  const TensorView& at(std::string_view name) const;  // throws IoError naming path + tensor
  // The first of `aliases` stored (names of one tied weight in order of preference).
  // Throws IoError listing every alias when none is stored.
  const TensorView& resolve(const std::vector<std::string>& aliases) const;
  // Keeps the mapping behind `name`'s data alive.
  std::shared_ptr<const void> owner(std::string_view name) const;

  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  uint64_t num_elements() const;  // sum of numel over tensors
  uint64_t num_bytes() const;     // sum of tensor bytes

 private:
  struct Entry {
    const TensorView* view;
    std::size_t shard;
  };
  std::string path_;
  std::vector<std::string> files_;
  std::vector<std::unique_ptr<SafeTensorsFile>> shards_;  // stable addresses for Entry::view
  std::unordered_map<std::string, Entry> entries_;
  std::map<std::string, std::string> metadata_;

  void add_shard(SafeTensorsFile file);
};

// Message for directories that hold only pickled weights: names the converter script.
std::string pickle_only_message(const std::string& dir, const std::string& file);

}  // namespace xling::io
