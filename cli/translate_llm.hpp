// `xling translate --model LLM`: in-context machine translation with a decoder-only LLM. Each
// input becomes a few-shot prompt (tasks/example_selector.hpp) — with --examples POOL the K pool
// pairs most similar to it, else none (zero-shot) — and the reply up to its first line break is
// the translation.
#pragma once

#include <cstdint>
#include <string>

#include "generate/options.hpp"

namespace xling::cli {

struct LlmTranslateOptions {
  std::string model, src_lang, tgt_lang, input = "-", output = "-", dtype = "f32", device = "cpu";
  std::string examples;                                // pool file ("" = zero-shot)
  std::string source_field = "source", target_field = "target";
  std::string embedder;                                // sentence encoder for the selection ("" = xling-mini)
  std::string src_label, tgt_label;                    // prompt labels ("" = the languages' English names)
  std::string adapter, prompts_out;
  int64_t k = 4, fetch_k = 0;
  double mmr_lambda = 1.0;
  std::size_t batch_size = 8;
  bool chat = false, merge_adapter = false, quiet = false;
  generate::GenerationOverrides overrides;             // --num-beams, --max-new-tokens
};

int run_llm_translate(const LlmTranslateOptions& options);

}  // namespace xling::cli
