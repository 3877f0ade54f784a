// Checkpoint discovery, shard index validation and alias lookup (see checkpoint.hpp).
#include "io/checkpoint.hpp"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/json.hpp"
#include "xling/errors.hpp"

namespace fs = std::filesystem;

namespace xling::io {

std::string pickle_only_message(const std::string& dir, const std::string& file) {
  return fmt::format(
      "{}: holds only '{}' (a Python pickle); xling never unpickles. Convert it once with "
      "'.venv/bin/python tools/convert_bin_to_safetensors.py {}' (loads with torch.load(weights_only=True) "
      "and writes model.safetensors next to it)",
      dir, file, dir);
}

void Checkpoint::add_shard(SafeTensorsFile file) {
  std::size_t shard = shards_.size();
  files_.push_back(file.path());
  shards_.push_back(std::make_unique<SafeTensorsFile>(std::move(file)));
  for (const auto& t : shards_.back()->tensors()) {
    auto [it, inserted] = entries_.emplace(t.name, Entry{&t, shard});
    if (!inserted) {
      throw IoError(fmt::format("{}: tensor '{}' is stored in two shards ('{}' and '{}')", path_, t.name,
                                files_[it->second.shard], files_[shard]));
    }
  }
}

Checkpoint Checkpoint::open(const std::string& path, const std::string& stem) {
  Checkpoint ckpt;
  ckpt.path_ = path;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw IoError(fmt::format("{}: no such file or directory", path));
  if (!fs::is_directory(path, ec)) {
    ckpt.add_shard(SafeTensorsFile::open(path));
    ckpt.metadata_ = ckpt.shards_.front()->metadata();
    return ckpt;
  }
  fs::path dir(path);
  fs::path single = dir / (stem + ".safetensors");
  fs::path index = dir / (stem + ".safetensors.index.json");
  if (fs::exists(single, ec)) {
    ckpt.add_shard(SafeTensorsFile::open(single.string()));
    ckpt.metadata_ = ckpt.shards_.front()->metadata();
    return ckpt;
  }
  if (fs::exists(index, ec)) {
    const std::string source = index.string();
    nlohmann::json json = core::read_json_file(source);
    core::JsonFields fields(json, source);
    const nlohmann::json& map = fields.raw("weight_map");
    if (!map.is_object()) fields.fail("weight_map", "expected an object {tensor name: shard file}");
    if (json.contains("metadata") && json["metadata"].is_object()) {
      for (const auto& [k, v] : json["metadata"].items()) {
        ckpt.metadata_[k] = v.is_string() ? v.get<std::string>() : v.dump();
      }
    }
    // Open each shard once, in first-mention order; check every listed tensor is there.
    std::vector<std::string> order;
    std::map<std::string, std::vector<std::string>> wanted;
    for (const auto& [name, shard] : map.items()) {
      if (!shard.is_string()) {
        throw IoError(fmt::format("{}: weight_map['{}'] is {}, not a file name", source, name,
                                  core::json_excerpt(shard)));
      }
      const std::string& file = shard.get_ref<const std::string&>();
      if (file.empty() || file.find('/') != std::string::npos || file.find('\\') != std::string::npos ||
          file == "." || file == "..") {
        throw IoError(fmt::format("{}: weight_map['{}'] names '{}', which is not a plain file name in {}", source,
                                  name, file, path));
      }
      if (!wanted.count(file)) order.push_back(file);
      wanted[file].push_back(name);
    }
    if (order.empty()) throw IoError(fmt::format("{}: weight_map is empty", source));
    for (const auto& file : order) {
      SafeTensorsFile shard = SafeTensorsFile::open((dir / file).string());
      for (const auto& name : wanted[file]) {
        if (!shard.find(name)) {
          throw IoError(fmt::format("{}: lists tensor '{}' in '{}', but that shard does not hold it", source, name,
                                    file));
        }
      }
      ckpt.add_shard(std::move(shard));
    }
    // Tensors a shard holds but the index does not list are not part of the model (HF
    // ignores them too); drop them so that lookups agree with the index.
    for (auto it = ckpt.entries_.begin(); it != ckpt.entries_.end();) {
      if (!map.contains(it->first)) it = ckpt.entries_.erase(it);
      else ++it;
    }
    return ckpt;
  }
  for (const char* pickled : {"pytorch_model.bin.index.json", "pytorch_model.bin"}) {
    if (fs::exists(dir / pickled, ec)) throw UnsupportedModel(pickle_only_message(path, pickled));
  }
  throw IoError(fmt::format("{}: no {}.safetensors or {}.safetensors.index.json in this directory", path, stem,
                            stem));
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& [name, entry] : entries_) out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

const TensorView* Checkpoint::find(std::string_view name) const {
  auto it = entries_.find(std::string(name));
  return it == entries_.end() ? nullptr : it->second.view;
}

const TensorView& Checkpoint::at(std::string_view name) const {
  if (const TensorView* t = find(name)) return *t;
  throw IoError(fmt::format("{}: no tensor named '{}'", path_, name));
}

const TensorView& Checkpoint::resolve(const std::vector<std::string>& aliases) const {
  for (const auto& name : aliases) {
    if (const TensorView* t = find(name)) return *t;
  }
  throw IoError(fmt::format("{}: none of the tied names [{}] is stored", path_, fmt::join(aliases, ", ")));
}

std::shared_ptr<const void> Checkpoint::owner(std::string_view name) const {
  auto it = entries_.find(std::string(name));
  if (it == entries_.end()) throw IoError(fmt::format("{}: no tensor named '{}'", path_, name));
  return shards_[it->second.shard]->owner();
}

uint64_t Checkpoint::num_elements() const {
  uint64_t n = 0;
  for (const auto& [name, e] : entries_) n += static_cast<uint64_t>(e.view->numel());
  return n;
}

uint64_t Checkpoint::num_bytes() const {
  uint64_t n = 0;
  for (const auto& [name, e] : entries_) n += e.view->nbytes;
  return n;
}

}  // namespace xling::io
