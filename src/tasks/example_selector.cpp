#include "tasks/example_selector.hpp"

#include <algorithm>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "index/mmr.hpp"
#include "index/vector_index.hpp"
#include "tasks/corpus_indexer.hpp"
#include "tasks/sentence_encoder.hpp"
#include "train/data.hpp"
#include "xling/errors.hpp"

namespace xling::tasks {

std::vector<ExamplePair> read_example_pool(const std::string& path, const std::string& source_field,
                                           const std::string& target_field) {
  std::vector<ExamplePair> out;
  train::for_each_json_row(path, [&](std::size_t line, const nlohmann::json& row, const std::string& where) {
    auto text = [&](const std::string& field) {
      if (!row.contains(field) || !row[field].is_string()) {
        throw InvalidArgument(fmt::format("{}: expected a string '{}' (see --source-field/--target-field)", where, field));
      }
      return row[field].get<std::string>();
    };
    out.push_back({text(source_field), text(target_field), static_cast<int64_t>(line)});
  });
  return out;
}

std::string few_shot_prompt(const std::vector<SelectedExample>& most_similar_first, const std::string& input,
                            const std::string& src_label, const std::string& tgt_label) {
  std::string p;
  for (auto it = most_similar_first.rbegin(); it != most_similar_first.rend(); ++it) {
    p += fmt::format("{}: {}\n{}: {}\n\n", src_label, it->pair->source, tgt_label, it->pair->target);
  }
  p += fmt::format("{}: {}\n{}:", src_label, input, tgt_label);
  return p;
}

nlohmann::ordered_json examples_json(const std::vector<SelectedExample>& examples) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const auto& e : examples) {
    out.push_back(nlohmann::ordered_json{
        {"line", e.pair->line}, {"score", e.similarity}, {"source", e.pair->source}, {"target", e.pair->target}});
  }
  return out;
}

ExampleSelector::ExampleSelector(std::unique_ptr<SentenceEncoder> encoder, std::vector<ExamplePair> pool,
                                 std::size_t batch_tokens)
    : encoder_(std::move(encoder)), pool_(std::move(pool)), batch_tokens_(batch_tokens) {
  if (pool_.empty()) throw InvalidArgument("the example pool is empty");
  std::vector<std::string> sources;
  sources.reserve(pool_.size());
  for (const auto& p : pool_) sources.push_back(p.source);
  EncodeOptions eo;
  eo.batch_tokens = batch_tokens_;
  vectors_ = to_float_rows(encoder_->encode(sources, eo));  // unit length: the encoder normalises
}

ExampleSelector::~ExampleSelector() = default;
ExampleSelector::ExampleSelector(ExampleSelector&&) noexcept = default;
ExampleSelector& ExampleSelector::operator=(ExampleSelector&&) noexcept = default;

std::vector<std::vector<SelectedExample>> ExampleSelector::select(const std::vector<std::string>& inputs,
                                                                  const SelectOptions& o) const {
  if (o.k <= 0) throw InvalidArgument(fmt::format("--k must be positive, got {}", o.k));
  if (o.mmr_lambda < 0 || o.mmr_lambda > 1) throw InvalidArgument(fmt::format("--mmr-lambda must be in [0, 1], got {}", o.mmr_lambda));
  std::vector<std::vector<SelectedExample>> out(inputs.size());
  if (inputs.empty()) return out;
  const int dim = static_cast<int>(encoder_->dimension());
  EncodeOptions eo;
  eo.batch_tokens = batch_tokens_;
  auto qv = to_float_rows(encoder_->encode(inputs, eo));
  // Identical sources are searched past: a query may match several pool rows with its own text.
  std::unordered_map<std::string_view, int64_t> same;
  int64_t extra = 0;
  if (o.exclude_identical) {
    for (const auto& p : pool_) ++same[p.source];
    for (const auto& in : inputs) {
      auto it = same.find(in);
      if (it != same.end()) extra = std::max(extra, it->second);
    }
  }
  const auto n_pool = static_cast<int64_t>(pool_.size());
  const int64_t wanted = o.mmr_lambda < 1.0 ? std::max(o.k, o.fetch_k > 0 ? o.fetch_k : 4 * o.k) : o.k;
  const int64_t fetch = std::min(n_pool, wanted + extra);
  // Exact candidates (a pool is small next to a corpus), then MMR among the best `wanted`.
  auto flat = index::VectorIndex::build(index::IndexKind::kFlat, vectors_.data(), n_pool, dim);
  auto nb = flat.search(qv.data(), static_cast<int64_t>(inputs.size()), fetch);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    std::vector<int64_t> cand;
    for (int64_t j = 0; j < fetch && static_cast<int64_t>(cand.size()) < wanted; ++j) {
      const auto p = nb.positions[i * static_cast<std::size_t>(fetch) + static_cast<std::size_t>(j)];
      if (p < 0) continue;
      if (o.exclude_identical && pool_[static_cast<std::size_t>(p)].source == inputs[i]) continue;
      cand.push_back(p);
    }
    std::vector<float> cv;
    cv.reserve(cand.size() * static_cast<std::size_t>(dim));
    for (auto c : cand) cv.insert(cv.end(), vectors_.begin() + c * dim, vectors_.begin() + (c + 1) * dim);
    auto picks = index::mmr_select(qv.data() + i * static_cast<std::size_t>(dim), cv.data(),
                                   static_cast<int64_t>(cand.size()), dim, o.k, o.mmr_lambda);
    for (const auto& s : picks) {
      out[i].push_back({&pool_[static_cast<std::size_t>(cand[static_cast<std::size_t>(s.candidate)])], s.similarity});
    }
  }
  return out;
}

}  // namespace xling::tasks
