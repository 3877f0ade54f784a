// generation_config.json: the decoding defaults a checkpoint ships (HF semantics: a value
// passed explicitly overrides it; fields absent here fall back to HF's defaults).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace xling::io {

enum class EarlyStopping { kFalse, kTrue, kNever };  // HF: bool or "never"

struct GenerationConfig {
  std::string source;
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;
  std::optional<int64_t> pad_token_id;
  std::optional<int64_t> decoder_start_token_id;
  std::optional<int64_t> forced_bos_token_id;
  std::optional<int64_t> forced_eos_token_id;
  std::optional<int64_t> max_length;      // HF default 20 when neither max is set
  std::optional<int64_t> max_new_tokens;
  int64_t min_length = 0;
  std::optional<int64_t> min_new_tokens;
  int64_t num_beams = 1;
  int64_t num_return_sequences = 1;
  bool do_sample = false;
  double temperature = 1.0;
  int64_t top_k = 50;
  double top_p = 1.0;
  std::optional<double> min_p;
  double repetition_penalty = 1.0;
  double length_penalty = 1.0;
  EarlyStopping early_stopping = EarlyStopping::kFalse;
  int64_t no_repeat_ngram_size = 0;
  std::vector<std::vector<int64_t>> bad_words_ids;
  std::vector<int64_t> suppress_tokens;
  std::vector<std::string> stop_strings;
};

// Parses `path` (generation_config.json or a directory holding it). Throws IoError /
// InvalidArgument naming key and value.
GenerationConfig load_generation_config(const std::string& path);
// The directory's generation_config.json when it has one (HF then derives the defaults from
// config.json instead).
std::optional<GenerationConfig> load_generation_config_if_present(const std::string& model_dir);
// Parses an already-read JSON document; `source` names it in errors.
GenerationConfig parse_generation_config(const nlohmann::json& json, const std::string& source);

}  // namespace xling::io
