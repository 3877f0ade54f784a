// generation_config.json parsing and validation (see generation_config.hpp).
#include "io/generation_config.hpp"

#include <filesystem>

#include <fmt/format.h>

#include "core/json.hpp"
#include "xling/errors.hpp"

namespace xling::io {

GenerationConfig load_generation_config(const std::string& path) {
  std::string file = path;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) file = (std::filesystem::path(path) / "generation_config.json").string();
  return parse_generation_config(core::read_json_file(file), file);
}

std::optional<GenerationConfig> load_generation_config_if_present(const std::string& model_dir) {
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::path(model_dir) / "generation_config.json", ec)) return std::nullopt;
  return load_generation_config(model_dir);
}

GenerationConfig parse_generation_config(const nlohmann::json& json, const std::string& file) {
  core::JsonFields f(json, file);
  GenerationConfig g;
  g.source = file;
  g.bos_token_id = f.optional_integer("bos_token_id");
  g.eos_token_ids = f.integer_list("eos_token_id");
  g.pad_token_id = f.optional_integer("pad_token_id");
  g.decoder_start_token_id = f.optional_integer("decoder_start_token_id");
  g.forced_bos_token_id = f.optional_integer("forced_bos_token_id");
  g.forced_eos_token_id = f.optional_integer("forced_eos_token_id");
  if (f.has("max_length")) g.max_length = f.positive("max_length");
  if (f.has("max_new_tokens")) g.max_new_tokens = f.positive("max_new_tokens");
  g.min_length = f.integer_or("min_length", 0);
  if (g.min_length < 0) f.fail("min_length", "expected a non-negative integer");
  g.min_new_tokens = f.optional_integer("min_new_tokens");
  if (g.min_new_tokens && *g.min_new_tokens < 0) f.fail("min_new_tokens", "expected a non-negative integer");
  g.num_beams = f.positive_or("num_beams", 1);
  g.num_return_sequences = f.positive_or("num_return_sequences", 1);
  if (g.num_return_sequences > g.num_beams && !f.boolean_or("do_sample", false)) {
    f.fail("num_return_sequences", fmt::format("cannot exceed num_beams ({}) without sampling", g.num_beams));
  }
  g.do_sample = f.boolean_or("do_sample", false);
  g.temperature = f.number_or("temperature", 1.0);
  if (!(g.temperature > 0.0)) f.fail("temperature", "expected a positive number");
  g.top_k = f.integer_or("top_k", 50);
  if (g.top_k < 0) f.fail("top_k", "expected a non-negative integer");
  g.top_p = f.number_or("top_p", 1.0);
  if (!(g.top_p > 0.0 && g.top_p <= 1.0)) f.fail("top_p", "expected a number in (0, 1]");
  g.min_p = f.optional_number("min_p");
  if (g.min_p && !(*g.min_p >= 0.0 && *g.min_p <= 1.0)) f.fail("min_p", "expected a number in [0, 1]");
  g.repetition_penalty = f.number_or("repetition_penalty", 1.0);
  if (!(g.repetition_penalty > 0.0)) f.fail("repetition_penalty", "expected a positive number");
  g.length_penalty = f.number_or("length_penalty", 1.0);
  if (f.has("early_stopping")) {
    const auto& v = f.raw("early_stopping");
    if (v.is_boolean()) g.early_stopping = v.get<bool>() ? EarlyStopping::kTrue : EarlyStopping::kFalse;
    else if (v.is_string() && v.get<std::string>() == "never") g.early_stopping = EarlyStopping::kNever;
    else f.fail("early_stopping", "expected true, false or \"never\"");
  }
  g.no_repeat_ngram_size = f.integer_or("no_repeat_ngram_size", 0);
  if (g.no_repeat_ngram_size < 0) f.fail("no_repeat_ngram_size", "expected a non-negative integer");
  if (f.has("bad_words_ids")) {
    const auto& v = f.raw("bad_words_ids");
    if (!v.is_array()) f.fail("bad_words_ids", "expected a list of lists of token ids");
    for (const auto& seq : v) {
      if (!seq.is_array() || seq.empty()) f.fail("bad_words_ids", "expected a list of non-empty lists of token ids");
      std::vector<int64_t> ids;
      for (const auto& id : seq) {
        if (!id.is_number_integer()) f.fail("bad_words_ids", "expected integer token ids");
        ids.push_back(id.get<int64_t>());
      }
      g.bad_words_ids.push_back(std::move(ids));
    }
  }
  if (f.has("suppress_tokens") && !f.raw("suppress_tokens").is_null()) g.suppress_tokens = f.integer_list("suppress_tokens");
  if (f.has("stop_strings")) {
    const auto& v = f.raw("stop_strings");
    if (v.is_string()) g.stop_strings.push_back(v.get<std::string>());
    else g.stop_strings = f.string_list("stop_strings");
  }
  return g;
}

}  // namespace xling::io
