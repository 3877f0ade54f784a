// `xling info`: what a model directory or safetensors file holds -- architecture, sizes,
// dtype, parameter count, tokenizer kind and vocabulary, files.
#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/common.hpp"
#include "io/model_location.hpp"
#include "core/format.hpp"
#include "core/json.hpp"
#include "io/checkpoint.hpp"
#include "io/config.hpp"
#include "io/generation_config.hpp"
#include "io/model_dir.hpp"
#include "xling/errors.hpp"

namespace xling::cli {
namespace {

struct InfoOptions {
  std::string model;
  std::string output = "-";
  bool json = false;
  bool tensors = false;
};

nlohmann::json tensor_list(const io::Checkpoint& ckpt) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& name : ckpt.names()) {
    const auto& t = ckpt.at(name);
    list.push_back({{"name", name}, {"dtype", std::string(dtype_name(t.dtype))}, {"shape", t.shape}});
  }
  return list;
}

nlohmann::json weights_json(const io::Checkpoint& ckpt) {
  std::map<std::string, uint64_t> by_dtype;
  for (const auto& name : ckpt.names()) by_dtype[std::string(dtype_name(ckpt.at(name).dtype))] += 1;
  nlohmann::json files = nlohmann::json::array();
  for (const auto& f : ckpt.files()) files.push_back(f);
  return {{"files", files},
          {"tensors", ckpt.size()},
          {"parameters", ckpt.num_elements()},
          {"bytes", ckpt.num_bytes()},
          {"stored_dtypes", by_dtype},
          {"metadata", ckpt.metadata()}};
}

nlohmann::json collect(const InfoOptions& opt) {
  nlohmann::json out;
  out["path"] = opt.model;
  auto shipped = io::find_shipped_model(io::kDefaultModelName);
  out["default_model"] = shipped ? nlohmann::json(*shipped) : nlohmann::json(nullptr);
  out["model_search_path"] = io::model_search_dirs();
  std::error_code ec;
  if (!std::filesystem::is_directory(opt.model, ec)) {
    // A single safetensors file.
    auto ckpt = io::Checkpoint::open(opt.model);
    out["weights"] = weights_json(ckpt);
    if (opt.tensors) out["tensor_list"] = tensor_list(ckpt);
    return out;
  }
  io::ModelDirInfo dir = io::inspect_model_dir(opt.model);
  nlohmann::json files = nlohmann::json::array();
  for (const auto& [name, size] : dir.files) files.push_back({{"name", name}, {"bytes", size}});
  out["files"] = files;
  if (dir.has_config && !core::read_json_file(opt.model + "/config.json").contains("model_type")) {
    out["note"] = "config.json has no model_type: not a transformers model (a sentence-transformers module?)";
  } else if (dir.has_config) {
    auto config = io::load_config_any(opt.model);
    nlohmann::json c;
    c["model_type"] = config->model_type;
    c["family"] = config->family.empty() ? nlohmann::json(nullptr) : nlohmann::json(config->family);
    c["supported"] = !config->family.empty();
    c["architectures"] = config->architectures;
    c["dtype"] = config->dtype;
    nlohmann::json sizes = nlohmann::json::object();
    for (const auto& [k, v] : config->summary()) sizes[k] = v;
    c["sizes"] = sizes;
    if (!config->id2label.empty()) {
      nlohmann::json labels = nlohmann::json::object();
      for (const auto& [id, label] : config->id2label) labels[std::to_string(id)] = label;
      c["id2label"] = labels;
    }
    out["config"] = c;
  }
  if (dir.has_generation_config) {
    auto g = io::load_generation_config(opt.model);
    out["generation"] = {{"num_beams", g.num_beams},
                         {"max_length", g.max_length ? nlohmann::json(*g.max_length) : nlohmann::json(nullptr)},
                         {"eos_token_id", g.eos_token_ids},
                         {"decoder_start_token_id", g.decoder_start_token_id ? nlohmann::json(*g.decoder_start_token_id)
                                                                             : nlohmann::json(nullptr)},
                         {"forced_bos_token_id",
                          g.forced_bos_token_id ? nlohmann::json(*g.forced_bos_token_id) : nlohmann::json(nullptr)}};
  }
  out["tokenizer"] = {{"kind", dir.tokenizer.kind},
                      {"file", dir.tokenizer.file},
                      {"vocab_size", dir.tokenizer.vocab_size ? nlohmann::json(*dir.tokenizer.vocab_size)
                                                              : nlohmann::json(nullptr)}};
  out["sentence_transformers"] = dir.is_sentence_transformers;
  out["peft_adapter"] = dir.is_peft_adapter;
  std::string stem = "model";
  if (dir.is_peft_adapter) {
    stem = "adapter_model";
    auto cfg = core::read_json_file(opt.model + "/adapter_config.json");
    nlohmann::json adapter = nlohmann::json::object();
    for (const char* key : {"peft_type", "task_type", "r", "lora_alpha", "target_modules", "modules_to_save",
                            "base_model_name_or_path"}) {
      if (cfg.is_object() && cfg.contains(key) && !cfg[key].is_null()) adapter[key] = cfg[key];
    }
    out["adapter"] = adapter;
  }
  const std::filesystem::path root(opt.model);
  const bool has_weights = std::filesystem::exists(root / (stem + ".safetensors"), ec) ||
                           std::filesystem::exists(root / (stem + ".safetensors.index.json"), ec);
  const bool has_pickle = std::filesystem::exists(root / "pytorch_model.bin", ec) ||
                          std::filesystem::exists(root / "pytorch_model.bin.index.json", ec);
  if (has_weights || has_pickle) {
    auto ckpt = io::Checkpoint::open(opt.model, stem);  // pickle-only: UnsupportedModel with the converter
    out["weights"] = weights_json(ckpt);
    if (opt.tensors) out["tensor_list"] = tensor_list(ckpt);
  } else {
    out["weights"] = nullptr;
  }
  return out;
}

void print_text(const nlohmann::json& info, std::ostream& os) {
  auto row = [&](const std::string& key, const std::string& value) {
    os << fmt::format("{:<{}}{}\n", key, std::max<std::size_t>(14, key.size() + 1), value);
  };
  row("path", info["path"].get<std::string>());
  row("default model", info["default_model"].is_null() ? std::string("(not found)") : info["default_model"].get<std::string>());
  std::string search;
  for (const auto& d : info["model_search_path"]) search += (search.empty() ? "" : ":") + d.get<std::string>();
  row("model path", search.empty() ? "(none)" : search);
  if (info.contains("config")) {
    const auto& c = info["config"];
    std::string arch;
    for (const auto& a : c["architectures"]) arch += (arch.empty() ? "" : ", ") + a.get<std::string>();
    row("architecture", fmt::format("{} (model_type {}, {})", arch.empty() ? "?" : arch,
                                    c["model_type"].get<std::string>(),
                                    c["supported"].get<bool>() ? "family " + c["family"].get<std::string>()
                                                               : std::string("family not supported yet")));
    for (const auto& [k, v] : c["sizes"].items()) row("  " + k, v.get<std::string>());
    row("dtype", c["dtype"].get<std::string>() + " (config)");
    if (c.contains("id2label")) {
      std::string labels;
      for (const auto& [k, v] : c["id2label"].items()) labels += (labels.empty() ? "" : ", ") + k + "=" + v.get<std::string>();
      row("labels", labels);
    }
  }
  if (info.contains("weights") && info["weights"].is_null()) row("parameters", "no weights in this directory");
  if (info.contains("weights") && !info["weights"].is_null()) {
    const auto& w = info["weights"];
    std::string dtypes;
    for (const auto& [k, v] : w["stored_dtypes"].items()) dtypes += (dtypes.empty() ? "" : ", ") + k + " x" + v.dump();
    row("parameters", fmt::format("{} ({} in {} tensors, {} file{}; stored {})",
                                  core::human_count(w["parameters"].get<uint64_t>()),
                                  core::human_bytes(w["bytes"].get<uint64_t>()), w["tensors"].get<uint64_t>(),
                                  w["files"].size(), w["files"].size() == 1 ? "" : "s", dtypes));
    for (const auto& [k, v] : w["metadata"].items()) row("  metadata", k + "=" + v.get<std::string>());
  }
  if (info.contains("tokenizer")) {
    const auto& t = info["tokenizer"];
    std::string vocab = t["vocab_size"].is_null() ? "" : fmt::format(", vocab {}", t["vocab_size"].get<int64_t>());
    std::string file = t["file"].get<std::string>();
    row("tokenizer", t["kind"].get<std::string>() + vocab +
                         (file.empty() ? "" : " (" + std::filesystem::path(file).filename().string() + ")"));
  }
  if (info.contains("generation")) row("generation", info["generation"].dump());
  if (info.contains("note")) row("note", info["note"].get<std::string>());
  if (info.value("sentence_transformers", false)) row("kind", "sentence-transformers directory (modules.json)");
  if (info.value("peft_adapter", false)) row("kind", "PEFT adapter (adapter_config.json)");
  if (info.contains("adapter")) {
    for (const auto& [k, v] : info["adapter"].items()) row("  " + k, v.is_string() ? v.get<std::string>() : v.dump());
  }
  if (info.contains("files")) {
    // Top-level files one by one; a sub-folder with many files (eval data, ...) as one entry.
    std::map<std::string, std::pair<std::size_t, uint64_t>> folders;
    for (const auto& f : info["files"]) {
      const std::string name = f["name"].get<std::string>();
      if (auto slash = name.find('/'); slash != std::string::npos) {
        auto& [n, bytes] = folders[name.substr(0, slash)];
        ++n;
        bytes += f["bytes"].get<uint64_t>();
      }
    }
    std::string files;
    std::set<std::string> shown;
    for (const auto& f : info["files"]) {
      const std::string name = f["name"].get<std::string>();
      const auto slash = name.find('/');
      if (slash != std::string::npos && folders[name.substr(0, slash)].first > 4) {
        const std::string dir = name.substr(0, slash);
        if (!shown.insert(dir).second) continue;
        files += (files.empty() ? "" : ", ") + fmt::format("{}/ ({} files, {})", dir, folders[dir].first,
                                                            core::human_bytes(folders[dir].second));
        continue;
      }
      files += (files.empty() ? "" : ", ") + fmt::format("{} ({})", name, core::human_bytes(f["bytes"].get<uint64_t>()));
    }
    row("files", files);
  }
  if (info.contains("tensor_list")) {
    os << "tensors:\n";
    for (const auto& t : info["tensor_list"]) {
      std::string shape;
      for (const auto& d : t["shape"]) shape += (shape.empty() ? "" : ", ") + d.dump();
      os << fmt::format("  {:<60} {:<5} [{}]\n", t["name"].get<std::string>(), t["dtype"].get<std::string>(), shape);
    }
  }
}

}  // namespace

void add_info_command(CLI::App& app, CommandList& commands) {
  auto opt = std::make_shared<InfoOptions>();
  CLI::App* sub = app.add_subcommand(
      "info",
      "Describe a model directory or a .safetensors file: architecture, sizes, dtype, parameter count, "
      "tokenizer kind and vocabulary size, files. Reads headers only (weights stay on disk).");
  sub->add_option("--model,-m", opt->model,
                  "Model directory (HF layout), a .safetensors file or a shipped model's name (default: xling-mini, "
                  "the embedded default model; the search path is printed)");
  sub->add_flag("--json", opt->json, "Print one JSON object instead of text");
  sub->add_flag("--tensors", opt->tensors, "Also list every tensor (name, dtype, shape)");
  sub->add_option("--output,-o", opt->output, "Where to write ('-' = stdout)")->capture_default_str();
  commands.push_back({sub, [opt]() {
                        opt->model = io::resolve_model(opt->model);
                        nlohmann::json info = collect(*opt);
                        TextOutput out(opt->output);
                        if (opt->json) out.stream() << info.dump() << "\n";  // one record, one line (JSONL)
                        else print_text(info, out.stream());
                        out.commit();
                        return kExitOk;
                      }});
}

}  // namespace xling::cli
