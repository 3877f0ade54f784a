// Per-language summaries (see cross_lingual.hpp).
#include "metrics/cross_lingual.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "xling/errors.hpp"

namespace xling::metrics {
namespace {

void check_scores(std::span<const LanguageScore> scores, const char* what) {
  if (scores.empty()) throw InvalidArgument(fmt::format("{}: no languages", what));
  std::set<std::string> seen;
  for (const LanguageScore& s : scores) {
    if (!seen.insert(s.language).second) {
      throw InvalidArgument(fmt::format("{}: language '{}' appears more than once", what, s.language));
    }
    if (!std::isfinite(s.score)) {
      throw InvalidArgument(fmt::format("{}: score of language '{}' is not finite ({})", what, s.language, s.score));
    }
    if (s.count < 1) {
      throw InvalidArgument(fmt::format("{}: count of language '{}' must be >= 1, found {}", what, s.language, s.count));
    }
  }
}

}  // namespace

double item_weighted_mean(std::span<const LanguageScore> scores) {
  check_scores(scores, "item_weighted_mean");
  double sum = 0.0, items = 0.0;
  for (const LanguageScore& s : scores) {
    sum += s.score * static_cast<double>(s.count);
    items += static_cast<double>(s.count);
  }
  return sum / items;
}

double macro_mean(std::span<const LanguageScore> scores) {
  check_scores(scores, "macro_mean");
  double sum = 0.0;
  for (const LanguageScore& s : scores) sum += s.score;
  return sum / static_cast<double>(scores.size());
}

std::vector<LanguageScore> worst_languages(std::span<const LanguageScore> scores, std::size_t k) {
  check_scores(scores, "worst_languages");
  std::vector<LanguageScore> sorted(scores.begin(), scores.end());
  std::sort(sorted.begin(), sorted.end(), [](const LanguageScore& a, const LanguageScore& b) {
    return a.score < b.score || (a.score == b.score && a.language < b.language);
  });
  sorted.resize(std::min(k, sorted.size()));
  return sorted;
}

double transfer_gap(std::span<const LanguageScore> scores, const std::string& source_language) {
  check_scores(scores, "transfer_gap");
  const LanguageScore* source = nullptr;
  double others = 0.0;
  std::size_t n_others = 0;
  for (const LanguageScore& s : scores) {
    if (s.language == source_language) {
      source = &s;
    } else {
      others += s.score;
      ++n_others;
    }
  }
  if (source == nullptr) {
    throw InvalidArgument(fmt::format("transfer_gap: source language '{}' has no score", source_language));
  }
  if (n_others == 0) {
    throw InvalidArgument(fmt::format("transfer_gap: no language besides the source '{}'", source_language));
  }
  return source->score - others / static_cast<double>(n_others);
}

double consistency(std::span<const std::vector<int64_t>> predictions) {
  if (predictions.empty()) throw InvalidArgument("consistency: no languages");
  const std::size_t n = predictions[0].size();
  if (n == 0) throw InvalidArgument("consistency: the parallel test set has no items");
  for (std::size_t l = 1; l < predictions.size(); ++l) {
    if (predictions[l].size() != n) {
      throw InvalidArgument(fmt::format("consistency: language 0 has {} predictions but language {} has {}", n, l,
                                        predictions[l].size()));
    }
  }
  std::size_t same = 0;
  for (std::size_t i = 0; i < n; ++i) {
    bool all_equal = true;
    for (std::size_t l = 1; l < predictions.size() && all_equal; ++l) all_equal = predictions[l][i] == predictions[0][i];
    same += all_equal ? 1 : 0;
  }
  return static_cast<double>(same) / static_cast<double>(n);
}

CrossLingualSummary summarize(std::span<const LanguageScore> scores, const CrossLingualOptions& options) {
  CrossLingualSummary out;
  out.item_weighted_mean = item_weighted_mean(scores);
  out.macro_mean = macro_mean(scores);
  out.worst = worst_languages(scores, options.worst_k);
  if (options.source_language) out.transfer_gap = transfer_gap(scores, *options.source_language);
  return out;
}

}  // namespace xling::metrics
