// Sentence embeddings as sentence-transformers computes them: a sentence-transformers
// directory (modules.json: Transformer -> Pooling -> [Dense...] -> [Normalize], in the
// sentence-transformers >= 5 layout and the older `sentence_transformers.models.*` one,
// prompts from config_sentence_transformers.json), or a plain HF encoder with a pooling mode.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "models/registry.hpp"
#include "tokenize/tokenizer.hpp"

namespace xling::tasks {

enum class Pooling { kCls, kMean, kMax, kMeanSqrtLen, kLastToken, kWeightedMean };
Pooling parse_pooling(const std::string& name);  // cls, mean, max, mean_sqrt_len, lasttoken, weightedmean

struct DenseLayer {
  torch::Tensor weight, bias;  // (out, in), (out) or undefined
  std::string activation;      // "tanh", "identity", "relu", "gelu", "sigmoid"
};

// What a sentence-transformers directory declares (modules.json, 1_Pooling/config.json, Dense
// and Normalize modules, sentence_bert_config.json, config_sentence_transformers.json). A plain
// HF directory gives transformer_dir = dir and no pooling.
struct SentenceLayout {
  bool sentence_transformers = false;  // has modules.json
  std::string transformer_dir;
  std::optional<Pooling> pooling;
  bool include_prompt = true;
  std::vector<DenseLayer> dense;
  bool normalize = false;
  std::size_t max_length = 512;
  bool lower_case = false;
  std::map<std::string, std::string> prompts;
  std::string default_prompt_name;
};
// Throws IoError (no config.json/modules.json), UnsupportedModel (module types or pooling
// modes xling does not run), InvalidArgument (malformed files).
SentenceLayout read_sentence_layout(const std::string& dir);

struct EncodeOptions {
  std::size_t batch_tokens = 0;  // token budget per batch (padded tokens counted); 0 = the device's default (resolve_batch_tokens)
  std::optional<std::size_t> max_length;
  std::string prompt_name;  // a key of the model's prompts ("query", ...)
  std::string prompt;       // or a literal prompt
};

struct EncodeStats {
  std::size_t texts = 0, tokens = 0, padded_tokens = 0, truncated = 0;
};

class SentenceEncoder {
 public:
  // `pooling` overrides/provides the pooling of a plain HF encoder directory; `normalize`
  // adds a Normalize step when the directory has none.
  static SentenceEncoder load(const std::string& dir, std::optional<Pooling> pooling = std::nullopt,
                              bool normalize = false, const models::LoadOptions& options = {});  // dtype, device
  // texts -> (N, D) float32, rows in input order. Sorted by length and batched by tokens.
  torch::Tensor encode(const std::vector<std::string>& texts, const EncodeOptions& options, EncodeStats* stats = nullptr) const;
  // One text as encode() feeds it (prompt and special tokens included, truncated to the max
  // length); `*full_length` gets its length before truncation, what a server checks against
  // max_length() when truncation is off. A server tokenizes on its request threads with this.
  tokenize::Encoding tokenize(const std::string& text, const EncodeOptions& options, std::size_t* full_length = nullptr) const;
  // Encodings from tokenize() (same options) -> (N, D) float32, rows in input order.
  torch::Tensor encode_tokenized(const std::vector<tokenize::Encoding>& encs, const EncodeOptions& options,
                                 EncodeStats* stats = nullptr) const;
  std::size_t dimension() const { return dimension_; }
  std::size_t max_length() const { return max_length_; }
  bool normalizes() const { return normalize_; }  // the directory (or load()) adds a Normalize step
  const tokenize::Tokenizer& tokenizer() const { return *tokenizer_; }
  const std::map<std::string, std::string>& prompts() const { return prompts_; }

 private:
  std::shared_ptr<models::LoadedModel> model_;
  std::shared_ptr<tokenize::Tokenizer> tokenizer_;
  Pooling pooling_ = Pooling::kMean;
  bool include_prompt_ = true;
  std::vector<DenseLayer> dense_;
  bool normalize_ = false;
  std::string resolve_prompt(const EncodeOptions& options) const;
  std::string input_text(const std::string& prompt, const std::string& text) const;  // prompt + text, lower-cased if the model says so

  std::size_t max_length_ = 512;
  bool lower_case_ = false;
  std::size_t dimension_ = 0;
  std::map<std::string, std::string> prompts_;
  std::string default_prompt_name_;
};

// Pools token embeddings (B, T, D) with mask (B, T) -> (B, D).
torch::Tensor pool(const torch::Tensor& hidden, const torch::Tensor& mask, Pooling p);

}  // namespace xling::tasks
