// Decoding settings with HF's precedence: explicit arguments > generation_config.json >
// config.json > HF defaults. Resolved once per call into plain values the generator reads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/config.hpp"
#include "io/generation_config.hpp"

namespace xling::generate {

// What a caller may set explicitly; unset fields fall back as HF's generate() does.
struct GenerationOverrides {
  std::optional<int64_t> max_new_tokens, min_new_tokens, max_length, min_length;
  std::optional<int64_t> num_beams, num_return_sequences;
  std::optional<bool> do_sample;
  std::optional<double> temperature, top_p, min_p, repetition_penalty, length_penalty;
  std::optional<int64_t> top_k, no_repeat_ngram_size;
  std::optional<io::EarlyStopping> early_stopping;
  std::optional<int64_t> forced_bos_token_id, forced_eos_token_id;
  std::optional<std::vector<std::vector<int64_t>>> bad_words_ids;
  std::optional<std::vector<int64_t>> suppress_tokens;
  std::optional<uint64_t> seed;
};

struct GenerationOptions {
  int64_t max_length = 20;      // total length of each output incl. its prompt (HF max_length)
  int64_t min_length = 0;       // EOS banned while the output is shorter
  int64_t min_new_tokens = 0;   // EOS banned before this many new tokens
  int64_t prompt_length = 1;    // decoder prompt length (1 = the start token of seq2seq)
  int64_t num_beams = 1;
  int64_t num_return_sequences = 1;
  bool do_sample = false;
  double temperature = 1.0;
  int64_t top_k = 50;
  double top_p = 1.0;
  std::optional<double> min_p;
  double repetition_penalty = 1.0;
  double length_penalty = 1.0;
  io::EarlyStopping early_stopping = io::EarlyStopping::kFalse;
  int64_t no_repeat_ngram_size = 0;
  std::vector<int64_t> eos_token_ids;
  int64_t pad_token_id = 0;     // fills finished greedy rows (HF: pad, else the first EOS)
  std::optional<int64_t> forced_bos_token_id, forced_eos_token_id;
  std::vector<std::vector<int64_t>> bad_words_ids;
  std::vector<int64_t> suppress_tokens;
  uint64_t seed = 0;
};

// Resolves the settings for prompts of `prompt_length` tokens. `generation` may be null (no
// generation_config.json: HF derives one from config.json). Throws InvalidArgument for
// inconsistent values (e.g. num_return_sequences > num_beams without sampling), naming them.
GenerationOptions resolve_options(const io::ModelConfig& model, const io::GenerationConfig* generation,
                                  const GenerationOverrides& overrides, int64_t prompt_length);

}  // namespace xling::generate
