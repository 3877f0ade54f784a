// Decoder-only generation: prompts left-padded into one batch (position ids from the mask, as
// HF's generate does), prefilled once, then decoded with the model's caches (CausalScorer),
// plus the loaded-model bundle behind `xling generate` and `xling chat` for LLMs.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "generate/generator.hpp"
#include "io/generation_config.hpp"
#include "models/causal_lm.hpp"
#include "models/registry.hpp"

namespace xling::generate {

class CausalScorer : public TokenScorer {
 public:
  // prompt_mask: (B, P) 0/1 mask of the left-padded prompts the generator feeds first (its
  // rows repeated when the generator feeds B x beams rows).
  CausalScorer(models::CausalLM& model, const torch::Tensor& prompt_mask);
  torch::Tensor next_logits(const torch::Tensor& new_ids) override;
  void select_rows(const torch::Tensor& rows) override;

 private:
  models::CausalLM& model_;
  models::CausalState state_;
  torch::Tensor prompt_mask_;
};

// How an LLM is loaded for generation.
struct CausalLoadOptions {
  // f32, bf16, f16, int8 (CPU: every matrix quantized for FBGEMM) or f32-packed (CPU: fp32
  // with every matrix prepacked for oneDNN; faster small-batch decoding, rounding not HF's)
  std::string dtype = "f32";
  torch::Device device = torch::kCPU;
  std::string adapter;        // a PEFT LoRA adapter directory applied on top ("" = none)
  bool merge_adapter = false; // fold it into the weights (always with int8)
};

// A decoder-only model loaded for generation: the model, its CausalLM view and its
// generation_config.json (when the directory has one).
struct CausalGenerator {
  models::LoadedModel loaded;
  models::CausalLM* model = nullptr;
  std::optional<io::GenerationConfig> generation;

  // Throws UnsupportedModel naming the directory, the class and `purpose` for other classes,
  // and what models::load_adapter / apply_adapter throw for a bad adapter.
  static CausalGenerator load(const std::string& dir, const CausalLoadOptions& options, const std::string& purpose);
  // HF's precedence (overrides > generation_config.json > config.json > defaults) for prompts
  // padded to `prompt_length` tokens.
  GenerationOptions options(const GenerationOverrides& overrides, int64_t prompt_length) const;
  // The id that left-pads prompts: pad_token_id of generation_config.json, else config.json's,
  // else the first EOS (as HF falls back), else 0.
  int64_t pad_id() const;
  // Prompts of any lengths, left-padded into one batch; overrides resolved for the padded
  // length. Returns per prompt num_return_sequences hypotheses whose ids are the prompt's own
  // ids (no padding) followed by the generated tokens.
  // `on_token` streams greedy/sampled tokens (see generate()).
  std::vector<std::vector<Hypothesis>> run(const std::vector<std::vector<int64_t>>& prompts,
                                           const GenerationOverrides& overrides, const TokenCallback& on_token = {});
};

// True when `dir`'s config.json names a decoder-only class xling runs (it reads only config.json).
bool is_causal_lm_dir(const std::string& dir);

}  // namespace xling::generate
