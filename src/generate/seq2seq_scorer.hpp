// Encoder-decoder generation: encodes the sources once, then lets the generator decode with
// the model's caches (Seq2SeqScorer), and the batch helper behind `xling generate` and
// `xling translate` (padding, decoder start tokens, device placement).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "generate/generator.hpp"
#include "io/generation_config.hpp"
#include "models/registry.hpp"
#include "models/seq2seq.hpp"

namespace xling::tokenize {
class TranslationTokenizer;
}

namespace xling::generate {

class Seq2SeqScorer : public TokenScorer {
 public:
  // input_ids, attention_mask: (B, S); encodes them under the caller's grad mode.
  Seq2SeqScorer(models::Seq2SeqModel& model, const torch::Tensor& input_ids, const torch::Tensor& attention_mask);
  torch::Tensor next_logits(const torch::Tensor& new_ids) override;
  void select_rows(const torch::Tensor& rows) override;

 private:
  models::Seq2SeqModel& model_;
  models::DecoderState state_;
  torch::Device device_;
};

// An encoder-decoder model loaded for generation: the model, its Seq2SeqModel view, its
// generation_config.json (when the directory has one) and the decoder start token.
struct Seq2SeqGenerator {
  models::LoadedModel loaded;
  models::Seq2SeqModel* model = nullptr;
  std::optional<io::GenerationConfig> generation;
  int64_t decoder_start = 0;

  // Throws UnsupportedModel naming the directory, the class and `purpose` ("`xling generate`")
  // when the class is not an encoder-decoder generation class.
  static Seq2SeqGenerator load(const std::string& dir, const models::LoadOptions& options, const std::string& purpose);
  // `dtype`: f32, bf16, f16 (models::parse_compute_dtype), or int8: fp32 weights with every
  // matrix quantized for FBGEMM's int8 GEMM (CPU only; InvalidArgument elsewhere).
  static Seq2SeqGenerator load(const std::string& dir, const std::string& dtype, const torch::Device& device,
                               const std::string& purpose);
  // HF's precedence: overrides > generation_config.json > config.json > defaults.
  GenerationOptions options(const GenerationOverrides& overrides) const;
  // generate_seq2seq on the model's device.
  std::vector<std::vector<Hypothesis>> run(const std::vector<std::vector<int64_t>>& sources,
                                           const GenerationOptions& options);
};

// The best translation of each source (ids from TranslationTokenizer::encode_source), decoded
// with `tok` and written as one line: a translation's own line breaks (a vocabulary may hold
// "\n" pieces; "\r\n" counts as one) become spaces. What `xling translate` and the server's
// /translate output.
std::vector<std::string> translate_sources(Seq2SeqGenerator& generator, const tokenize::TranslationTokenizer& tok,
                                           const std::vector<std::vector<int64_t>>& sources,
                                           const GenerationOptions& options);

// The decoder start token HF uses: generation_config's decoder_start_token_id, else config.json's.
int64_t decoder_start_token(const io::Seq2SeqConfig& config, const io::GenerationConfig* generation);

// Generates for sources of any lengths (each a list of ids, EOS included as the tokenizer made
// it): right-pads them with the pad id into one batch on `device`, starts every row with the
// decoder start token. Returns num_return_sequences hypotheses per source (ids start with the
// decoder start token, as HF returns them).
std::vector<std::vector<Hypothesis>> generate_seq2seq(models::Seq2SeqModel& model,
                                                      const std::vector<std::vector<int64_t>>& sources,
                                                      int64_t decoder_start, const GenerationOptions& options,
                                                      const torch::Device& device);

}  // namespace xling::generate
