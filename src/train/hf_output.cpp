// Writing trained models (see hf_output.hpp).
#include "train/hf_output.hpp"

#include <algorithm>

#include "core/atomic_file.hpp"
#include "core/json.hpp"
#include "io/safetensors_writer.hpp"
#include "models/peft.hpp"

namespace fs = std::filesystem;

namespace xling::train {

void write_json(const fs::path& path, const nlohmann::json& j) {
  core::AtomicFile f(path.string());
  f.write(j.dump(2) + "\n");
  f.commit();
}

void write_tensors(const fs::path& path, const NamedTensorList& named) {
  std::vector<torch::Tensor> keep;
  std::vector<io::TensorToWrite> out;
  keep.reserve(named.size());
  for (const auto& [name, t] : named) {
    keep.push_back(t.detach().to(torch::kCPU, torch::kFloat32).contiguous());
    const auto& c = keep.back();
    out.push_back({name, DType::kF32, c.sizes().vec(), c.data_ptr(), static_cast<std::size_t>(c.nbytes())});
  }
  io::write_safetensors(path.string(), out, {{"format", "pt"}});
}

NamedTensorList model_tensors(torch::nn::Module& module) {
  NamedTensorList named;
  // Base-model classes (XLMRobertaModel) are saved under HF's names, which have no "roberta.".
  const std::string prefix = models::base_model_prefix(module);
  for (const auto& p : module.named_parameters()) {
    std::string k = p.key();
    if (models::is_peft_parameter(k)) continue;
    if (!prefix.empty() && k.rfind(prefix + ".", 0) == 0) k = k.substr(prefix.size() + 1);
    named.emplace_back(k, p.value());
  }
  std::sort(named.begin(), named.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return named;
}

void write_config_and_tokenizer(const fs::path& dir, const std::string& source_dir,
                                const std::function<void(nlohmann::json&)>& edit) {
  fs::create_directories(dir);
  auto cfg = core::read_json_file((fs::path(source_dir) / "config.json").string());
  if (edit) edit(cfg);
  write_json(dir / "config.json", cfg);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "sentencepiece.bpe.model",
                        "spiece.model", "vocab.txt", "vocab.json", "merges.txt", "added_tokens.json"}) {
    std::error_code ec;
    fs::path src = fs::path(source_dir) / f;
    if (fs::exists(src, ec) && fs::absolute(src) != fs::absolute(dir / f)) {
      fs::copy_file(src, dir / f, fs::copy_options::overwrite_existing);
    }
  }
}

void write_sentence_modules(const fs::path& dir, const SentenceModules& m) {
  fs::create_directories(dir / "1_Pooling");
  nlohmann::json modules = nlohmann::json::array();
  modules.push_back({{"idx", 0}, {"name", "0"}, {"path", ""}, {"type", "sentence_transformers.models.Transformer"}});
  modules.push_back({{"idx", 1}, {"name", "1"}, {"path", "1_Pooling"}, {"type", "sentence_transformers.models.Pooling"}});
  if (m.normalize) {
    fs::create_directories(dir / "2_Normalize");
    modules.push_back({{"idx", 2}, {"name", "2"}, {"path", "2_Normalize"}, {"type", "sentence_transformers.models.Normalize"}});
  }
  write_json(dir / "modules.json", modules);
  write_json(dir / "sentence_bert_config.json", {{"max_seq_length", m.max_seq_length}, {"do_lower_case", m.lower_case}});
  // The classic flag layout, which every sentence-transformers version reads.
  nlohmann::json pooling = {{"word_embedding_dimension", m.dimension}};
  for (const char* mode : {"cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens", "weightedmean_tokens", "lasttoken"}) {
    pooling[std::string("pooling_mode_") + mode] = false;
  }
  const std::string flag = m.pooling == "cls"             ? "cls_token"
                           : m.pooling == "mean"          ? "mean_tokens"
                           : m.pooling == "max"           ? "max_tokens"
                           : m.pooling == "mean_sqrt_len" ? "mean_sqrt_len_tokens"
                           : m.pooling == "weightedmean"  ? "weightedmean_tokens"
                                                          : "lasttoken";
  pooling["pooling_mode_" + flag] = true;
  pooling["include_prompt"] = m.include_prompt;
  write_json(dir / "1_Pooling" / "config.json", pooling);
  write_json(dir / "config_sentence_transformers.json",
             {{"model_type", "SentenceTransformer"}, {"prompts", nlohmann::json::object()}, {"default_prompt_name", nullptr},
              {"similarity_fn_name", "cosine"}});
}

}  // namespace xling::train
