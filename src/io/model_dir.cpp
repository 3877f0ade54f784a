// Model directory inspection (see model_dir.hpp).
#include "io/model_dir.hpp"

#include <algorithm>
#include <filesystem>
#include <set>

#include <fmt/format.h>

#include "core/json.hpp"
#include "xling/errors.hpp"

namespace fs = std::filesystem;

namespace xling::io {
namespace {

TokenizerInfo tokenizer_from_json(const std::string& file) {
  TokenizerInfo info;
  info.file = file;
  nlohmann::json json = core::parse_json(core::read_text_file(file, 1u << 30), file, core::JsonLimits{/*max_depth=*/64});
  if (!json.is_object()) throw IoError(fmt::format("{}: expected a JSON object", file));
  auto model = json.find("model");
  if (model == json.end() || !model->is_object()) throw IoError(fmt::format("{}: no 'model' object", file));
  auto type = model->find("type");
  if (type != model->end() && type->is_string()) {
    info.kind = type->get<std::string>();
  } else if (model->contains("merges")) {
    info.kind = "BPE";  // old files omit the type
  } else {
    info.kind = "unknown";
  }
  std::set<int64_t> ids;
  auto vocab = model->find("vocab");
  if (vocab != model->end()) {
    if (vocab->is_object()) {
      for (const auto& [piece, id] : vocab->items()) {
        if (id.is_number_integer()) ids.insert(id.get<int64_t>());
      }
    } else if (vocab->is_array()) {  // Unigram: [[piece, score], ...], ids are positions
      for (std::size_t i = 0; i < vocab->size(); ++i) ids.insert(static_cast<int64_t>(i));
    }
  }
  auto added = json.find("added_tokens");
  if (added != json.end() && added->is_array()) {
    for (const auto& t : *added) {
      if (t.is_object() && t.contains("id") && t["id"].is_number_integer()) ids.insert(t["id"].get<int64_t>());
    }
  }
  if (!ids.empty()) info.vocab_size = static_cast<int64_t>(ids.size());
  return info;
}

}  // namespace

ModelDirInfo inspect_model_dir(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) throw IoError(fmt::format("{}: not a directory", path));
  ModelDirInfo info;
  info.path = path;
  fs::path root(path);
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it.depth() > 2) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec)) {
      info.files.emplace_back(fs::relative(it->path(), root, ec).string(), it->file_size(ec));
    }
  }
  std::sort(info.files.begin(), info.files.end());
  auto has = [&](const char* name) { return fs::exists(root / name, ec); };
  info.has_config = has("config.json");
  info.has_generation_config = has("generation_config.json");
  info.is_sentence_transformers = has("modules.json");
  info.is_peft_adapter = has("adapter_config.json");
  if (has("tokenizer.json")) {
    info.tokenizer = tokenizer_from_json((root / "tokenizer.json").string());
  } else {
    info.tokenizer.kind = "none";
    for (const char* spm : {"sentencepiece.bpe.model", "spiece.model", "source.spm", "tokenizer.model"}) {
      if (has(spm)) {
        info.tokenizer.kind = "sentencepiece";
        info.tokenizer.file = (root / spm).string();
        break;
      }
    }
    if (info.tokenizer.kind == "none" && has("vocab.txt")) {
      info.tokenizer.kind = "WordPiece (vocab.txt)";
      info.tokenizer.file = (root / "vocab.txt").string();
    }
  }
  return info;
}

}  // namespace xling::io
