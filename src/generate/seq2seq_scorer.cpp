// Encoder-decoder scoring and batching (see seq2seq_scorer.hpp).
#include "generate/seq2seq_scorer.hpp"

#include <fmt/format.h>

#include "tokenize/translation_tokenizer.hpp"
#include "xling/errors.hpp"

namespace xling::generate {

Seq2SeqScorer::Seq2SeqScorer(models::Seq2SeqModel& model, const torch::Tensor& input_ids,
                             const torch::Tensor& attention_mask)
    : model_(model), device_(input_ids.device()) {
  auto memory = model_.encode(input_ids, attention_mask);
  device_ = memory.device();
  state_ = model_.start_decoding(memory, attention_mask);
}

torch::Tensor Seq2SeqScorer::next_logits(const torch::Tensor& new_ids) {
  return model_.decode_step(new_ids.to(device_), state_);
}

void Seq2SeqScorer::select_rows(const torch::Tensor& rows) { state_.select_rows(rows.to(device_)); }

Seq2SeqGenerator Seq2SeqGenerator::load(const std::string& dir, const models::LoadOptions& options,
                                        const std::string& purpose) {
  Seq2SeqGenerator g;
  g.loaded = models::load_model(dir, options);
  g.model = models::as_seq2seq(*g.loaded.module);
  if (!g.model) {
    throw UnsupportedModel(fmt::format("{}: {} is not an encoder-decoder generation class; {} runs M2M-100/NLLB/SMaLL-100, "
                                       "mBART, Marian, BART and T5/mT5 (decoder-only LLMs are not supported yet)",
                                       dir, g.loaded.architecture, purpose));
  }
  g.generation = io::load_generation_config_if_present(dir);
  g.decoder_start = decoder_start_token(g.model->seq2seq_config(), g.generation ? &*g.generation : nullptr);
  return g;
}

Seq2SeqGenerator Seq2SeqGenerator::load(const std::string& dir, const std::string& dtype, const torch::Device& device,
                                        const std::string& purpose) {
  if (dtype != "int8") return load(dir, models::LoadOptions::with_dtype(models::parse_compute_dtype(dtype), device), purpose);
  if (device != torch::kCPU) throw InvalidArgument("--dtype int8 runs on the CPU (FBGEMM); use bf16 or f16 on a GPU");
  auto g = load(dir, models::LoadOptions::with_dtype(torch::kFloat32, device), purpose);
  g.model->quantize_int8();
  return g;
}

GenerationOptions Seq2SeqGenerator::options(const GenerationOverrides& overrides) const {
  return resolve_options(model->seq2seq_config(), generation ? &*generation : nullptr, overrides, 1);
}

std::vector<std::vector<Hypothesis>> Seq2SeqGenerator::run(const std::vector<std::vector<int64_t>>& sources,
                                                           const GenerationOptions& o) {
  return generate_seq2seq(*model, sources, decoder_start, o, loaded.device);
}

int64_t decoder_start_token(const io::Seq2SeqConfig& config, const io::GenerationConfig* generation) {
  if (generation && generation->decoder_start_token_id) return *generation->decoder_start_token_id;
  return config.decoder_start_token_id;
}

std::vector<std::vector<Hypothesis>> generate_seq2seq(models::Seq2SeqModel& model,
                                                      const std::vector<std::vector<int64_t>>& sources,
                                                      int64_t decoder_start, const GenerationOptions& options,
                                                      const torch::Device& device) {
  if (sources.empty()) return {};
  const auto& cfg = model.seq2seq_config();
  const int64_t pad = cfg.pad_token_id.value_or(0);
  std::size_t longest = 0;
  for (const auto& s : sources) longest = std::max(longest, s.size());
  if (longest == 0) throw InvalidArgument("generate: a source has no tokens");
  const int64_t b = static_cast<int64_t>(sources.size()), s = static_cast<int64_t>(longest);
  auto ids = torch::full({b, s}, pad, torch::kLong);
  auto mask = torch::zeros({b, s}, torch::kLong);
  for (int64_t i = 0; i < b; ++i) {
    const auto& src = sources[static_cast<std::size_t>(i)];
    for (std::size_t j = 0; j < src.size(); ++j) {
      if (src[j] < 0 || src[j] >= cfg.vocab_size) {
        throw InvalidArgument(fmt::format("generate: source {} has token id {} outside the vocabulary [0, {})", i, src[j],
                                          cfg.vocab_size));
      }
    }
    if (src.empty()) throw InvalidArgument(fmt::format("generate: source {} has no tokens", i));
    ids[i].narrow(0, 0, static_cast<int64_t>(src.size()))
        .copy_(torch::tensor(src, torch::TensorOptions().dtype(torch::kLong)));
    mask[i].narrow(0, 0, static_cast<int64_t>(src.size())).fill_(1);
  }
  Seq2SeqScorer scorer(model, ids.to(device), mask.to(device));
  auto prompts = torch::full({b, 1}, decoder_start, torch::kLong);
  return generate(scorer, prompts, options);
}

namespace {

std::string single_line(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;  // \r\n -> one space
    out.push_back(text[i] == '\n' || text[i] == '\r' ? ' ' : text[i]);
  }
  return out;
}

}  // namespace

std::vector<std::string> translate_sources(Seq2SeqGenerator& generator, const tokenize::TranslationTokenizer& tok,
                                           const std::vector<std::vector<int64_t>>& sources,
                                           const GenerationOptions& options) {
  auto results = generator.run(sources, options);
  std::vector<std::vector<int64_t>> best;
  best.reserve(results.size());
  for (auto& r : results) best.push_back(std::move(r.at(0).ids));
  auto texts = tok.decode_target_batch(best);
  for (auto& t : texts) t = single_line(t);
  return texts;
}

}  // namespace xling::generate
