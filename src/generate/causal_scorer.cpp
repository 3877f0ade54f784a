// Decoder-only scoring and batching (see causal_scorer.hpp).
#include "generate/causal_scorer.hpp"

#include <fmt/format.h>

#include "models/bloom.hpp"
#include "models/decoder.hpp"
#include "models/peft.hpp"
#include "xling/errors.hpp"

namespace xling::generate {

CausalScorer::CausalScorer(models::CausalLM& model, const torch::Tensor& prompt_mask)
    : model_(model), state_(model.start()), prompt_mask_(prompt_mask) {}

torch::Tensor CausalScorer::next_logits(const torch::Tensor& new_ids) {
  torch::Tensor mask;
  if (state_.past() == 0) {  // the prompts (beam search feeds each one K times)
    mask = prompt_mask_;
    if (new_ids.size(0) != mask.size(0)) mask = mask.repeat_interleave(new_ids.size(0) / mask.size(0), 0);
  } else {
    mask = torch::ones(new_ids.sizes(), torch::TensorOptions().dtype(torch::kLong).device(new_ids.device()));
  }
  return model_.step(new_ids, mask, state_);
}

void CausalScorer::select_rows(const torch::Tensor& rows) {
  if (state_.past() == 0) {  // nothing fed yet (sampling several sequences per prompt): select the prompts' rows
    prompt_mask_ = prompt_mask_.index_select(0, rows.to(prompt_mask_.device()));
    return;
  }
  state_.select_rows(rows.to(state_.mask.device()));
}

CausalGenerator CausalGenerator::load(const std::string& dir, const CausalLoadOptions& opt, const std::string& purpose) {
  const bool int8 = opt.dtype == "int8", packed = opt.dtype == "f32-packed";
  if (int8 && opt.device != torch::kCPU) throw InvalidArgument("--dtype int8 runs on the CPU (FBGEMM); use bf16 or f16 on a GPU");
  if (packed && opt.device != torch::kCPU) throw InvalidArgument("--dtype f32-packed runs on the CPU (oneDNN); use f32 on a GPU");
  CausalGenerator g;
  g.loaded = models::load_model(dir, models::LoadOptions::with_dtype(
                                         int8 || packed ? torch::kFloat32 : models::parse_compute_dtype(opt.dtype), opt.device));
  g.model = models::as_causal_lm(*g.loaded.module);
  if (!g.model) {
    throw UnsupportedModel(fmt::format("{}: {} is not a decoder-only generation class; {} runs {} here", dir,
                                       g.loaded.architecture, purpose, fmt::join(models::decoder_architectures(), ", ")));
  }
  if (!opt.adapter.empty()) {
    models::apply_adapter(g.loaded, models::load_adapter(opt.adapter));
    if (opt.merge_adapter || int8 || packed) models::merge_adapter(*g.loaded.module);
  }
  if (int8) g.model->quantize_int8();
  if (packed) g.model->prepack_f32();
  g.generation = io::load_generation_config_if_present(dir);
  return g;
}

GenerationOptions CausalGenerator::options(const GenerationOverrides& overrides, int64_t prompt_length) const {
  return resolve_options(model->causal_config(), generation ? &*generation : nullptr, overrides, prompt_length);
}

int64_t CausalGenerator::pad_id() const {
  if (generation && generation->pad_token_id) return *generation->pad_token_id;
  const auto& c = model->causal_config();
  if (c.pad_token_id) return *c.pad_token_id;
  if (generation && !generation->eos_token_ids.empty()) return generation->eos_token_ids.front();
  if (!c.eos_token_ids.empty()) return c.eos_token_ids.front();
  return 0;
}

std::vector<std::vector<Hypothesis>> CausalGenerator::run(const std::vector<std::vector<int64_t>>& prompts,
                                                          const GenerationOverrides& overrides,
                                                          const TokenCallback& on_token) {
  if (prompts.empty()) return {};
  const int64_t vocab = model->vocab_size();
  std::size_t longest = 0;
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    if (prompts[i].empty()) throw InvalidArgument(fmt::format("generate: prompt {} has no tokens", i));
    for (int64_t id : prompts[i]) {
      if (id < 0 || id >= vocab) {
        throw InvalidArgument(fmt::format("generate: prompt {} has token id {} outside the vocabulary [0, {})", i, id, vocab));
      }
    }
    longest = std::max(longest, prompts[i].size());
  }
  const int64_t b = static_cast<int64_t>(prompts.size()), p = static_cast<int64_t>(longest);
  auto ids = torch::full({b, p}, pad_id(), torch::kLong);
  auto mask = torch::zeros({b, p}, torch::kLong);
  for (int64_t i = 0; i < b; ++i) {
    const auto& src = prompts[static_cast<std::size_t>(i)];
    const int64_t n = static_cast<int64_t>(src.size());
    ids[i].narrow(0, p - n, n).copy_(torch::tensor(src, torch::TensorOptions().dtype(torch::kLong)));
    mask[i].narrow(0, p - n, n).fill_(1);
  }
  const auto o = options(overrides, p);
  const auto& c = model->causal_config();
  const int64_t max_positions = [&] {
    // Dynamic NTK RoPE exists to run past max_position_embeddings (its frequencies grow with the
    // sequence, as in HF); ALiBi has no fixed limit.
    if (auto* d = dynamic_cast<const io::DecoderConfig*>(&c)) {
      return d->rope.type == io::RopeType::kDynamic ? int64_t{0} : d->max_position_embeddings;
    }
    return int64_t{0};
  }();
  if (max_positions > 0 && o.max_length > max_positions) {
    throw InvalidArgument(fmt::format("generate: prompt ({} tokens) plus new tokens make {} positions, more than the "
                                      "model's context of {} (max_position_embeddings)",
                                      p, o.max_length, max_positions));
  }
  const auto device = loaded.device;
  CausalScorer scorer(*model, mask.to(device));
  auto results = generate(scorer, ids.to(device), o, on_token);
  for (std::size_t i = 0; i < results.size(); ++i) {  // drop each prompt's left padding
    const auto pad = static_cast<std::ptrdiff_t>(longest - prompts[i].size());
    for (auto& h : results[i]) h.ids.erase(h.ids.begin(), h.ids.begin() + pad);
  }
  return results;
}

bool is_causal_lm_dir(const std::string& dir) {
  try {
    auto cfg = io::load_config_any(dir);
    const auto archs = cfg->architectures;
    if (archs.empty()) return false;
    for (const auto& list : {models::decoder_architectures(), models::bloom_architectures()}) {
      if (std::find(list.begin(), list.end(), archs.front()) != list.end()) return true;
    }
  } catch (const Error&) {
  }
  return false;
}

}  // namespace xling::generate
