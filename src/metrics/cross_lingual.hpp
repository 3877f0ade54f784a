// Per-language summaries of a multilingual evaluation: item-weighted mean, macro mean over
// languages, the worst-k languages, the zero-shot transfer gap, and cross-lingual
// consistency on parallel test sets. Invalid input (no languages, duplicate languages,
// non-finite scores, counts < 1, ragged predictions) throws xling::InvalidArgument.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace xling::metrics {

struct LanguageScore {
  std::string language;
  double score = 0.0;
  int64_t count = 1;  // evaluated items, the weight of the item-weighted mean
};

// Sum of score * count over the sum of counts (the score over all items pooled, for
// metrics that are means over items such as accuracy).
double item_weighted_mean(std::span<const LanguageScore> scores);
// Unweighted mean over languages (what multilingual benchmarks such as XTREME report).
double macro_mean(std::span<const LanguageScore> scores);
// The k lowest-scoring languages, lowest first (equal scores by language name); all of
// them when k exceeds their number.
std::vector<LanguageScore> worst_languages(std::span<const LanguageScore> scores, std::size_t k);
// Score of `source_language` minus the macro mean of all other languages (XTREME's
// cross-lingual transfer gap); needs the source and at least one other language.
double transfer_gap(std::span<const LanguageScore> scores, const std::string& source_language);

// predictions[l][i] is the prediction for item i of the parallel test set in language l.
// Returns the share of items whose prediction is the same in every language (1.0 with a
// single language). All languages need the same, non-zero number of items.
double consistency(std::span<const std::vector<int64_t>> predictions);

struct CrossLingualOptions {
  std::size_t worst_k = 3;
  std::optional<std::string> source_language;  // no transfer gap without it
};

struct CrossLingualSummary {
  double item_weighted_mean = 0.0;
  double macro_mean = 0.0;
  std::vector<LanguageScore> worst;
  std::optional<double> transfer_gap;
};

CrossLingualSummary summarize(std::span<const LanguageScore> scores, const CrossLingualOptions& options = {});

}  // namespace xling::metrics
