// In-context example selection for LLM translation (issue 7's `select-examples`, used by
// `xling translate --model LLM --examples POOL`): the pool's source sides are embedded once
// with a sentence encoder; each input gets the K pool pairs whose source is most similar
// (exact cosine over unit vectors), optionally diversified by maximal marginal relevance
// (index/mmr.hpp), and a few-shot prompt is built from them:
//
//     {src}: <example source>\n{tgt}: <example target>\n\n     (K times, most similar last)
//     {src}: <input>\n{tgt}:
//
// The most similar example sits next to the input (closest context). No libtorch in this
// header: the encoder is owned by the selector.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace xling::tasks {

class SentenceEncoder;
struct EncodeOptions;

struct ExamplePair {
  std::string source, target;
  int64_t line = 0;  // 1-based row of the pool file
};

struct SelectedExample {
  const ExamplePair* pair = nullptr;  // into the selector's pool
  float similarity = 0;               // cos(input, pair source)
};

struct SelectOptions {
  int64_t k = 4;
  double mmr_lambda = 1.0;  // 1 = most similar first; lower trades similarity for diversity
  int64_t fetch_k = 0;      // candidates MMR chooses from (0 = 4 * k; only used when mmr_lambda < 1)
  // Leave out pool pairs whose source equals the input (leave-one-out selection when the inputs
  // come from the pool itself, e.g. when building training prompts).
  bool exclude_identical = false;
};

// Pool rows from .jsonl records or a .tsv/.csv with a header; each must hold string fields
// `source_field` and `target_field` (InvalidArgument naming the file and row otherwise).
std::vector<ExamplePair> read_example_pool(const std::string& path, const std::string& source_field,
                                           const std::string& target_field);

// The few-shot prompt for `input` from examples given most similar first (see above).
std::string few_shot_prompt(const std::vector<SelectedExample>& most_similar_first, const std::string& input,
                            const std::string& src_label, const std::string& tgt_label);

// [{"line", "score", "source", "target"}, ...] in the given order (select-examples' output and
// `xling translate --prompts-out`).
nlohmann::ordered_json examples_json(const std::vector<SelectedExample>& examples);

class ExampleSelector {
 public:
  // Embeds the pool's sources (progress on stderr unless quiet). An empty pool is an error.
  ExampleSelector(std::unique_ptr<SentenceEncoder> encoder, std::vector<ExamplePair> pool, std::size_t batch_tokens);
  ~ExampleSelector();
  ExampleSelector(ExampleSelector&&) noexcept;
  ExampleSelector& operator=(ExampleSelector&&) noexcept;

  // For each input, min(k, eligible pool size) examples, most similar first.
  std::vector<std::vector<SelectedExample>> select(const std::vector<std::string>& inputs, const SelectOptions& options) const;
  const std::vector<ExamplePair>& pool() const { return pool_; }

 private:
  std::unique_ptr<SentenceEncoder> encoder_;
  std::vector<ExamplePair> pool_;
  std::vector<float> vectors_;  // (pool, dim), unit length
  std::size_t batch_tokens_ = 0;
};

}  // namespace xling::tasks
