// scikit-learn-compatible classification metrics (see classification.hpp).
#include "metrics/classification.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "xling/errors.hpp"

namespace xling::metrics {
namespace {

void check_pair(std::size_t n_true, std::size_t n_pred, const char* what) {
  if (n_true != n_pred) {
    throw InvalidArgument(fmt::format("{}: y_true has {} samples but y_pred has {}", what, n_true, n_pred));
  }
  if (n_true == 0) throw InvalidArgument(fmt::format("{}: no samples (y_true and y_pred are empty)", what));
}

std::vector<int64_t> label_union(std::span<const int64_t> a, std::span<const int64_t> b) {
  std::vector<int64_t> labels(a.begin(), a.end());
  labels.insert(labels.end(), b.begin(), b.end());
  std::sort(labels.begin(), labels.end());
  labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
  return labels;
}

std::size_t index_of(const std::vector<int64_t>& sorted_labels, int64_t label) {
  return static_cast<std::size_t>(std::lower_bound(sorted_labels.begin(), sorted_labels.end(), label) -
                                  sorted_labels.begin());
}

// Per-label sufficient statistics, as sklearn's multilabel_confusion_matrix gives them.
struct LabelCounts {
  std::vector<double> tp, pred, truth;
};

// sklearn _prf_divide: numerator / denominator, or zero_division where the denominator is 0.
double prf_divide(double numerator, double denominator, double zero_division) {
  return denominator == 0.0 ? zero_division : numerator / denominator;
}

// sklearn _nanaverage: NaN entries are dropped; all weights zero means an unweighted mean;
// nothing left means NaN.
double nan_average(const std::vector<double>& values, const std::vector<double>* weights) {
  double sum = 0.0, weight_sum = 0.0, plain_sum = 0.0;
  std::size_t kept = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (std::isnan(values[i])) continue;
    double w = weights ? (*weights)[i] : 1.0;
    sum += values[i] * w;
    weight_sum += w;
    plain_sum += values[i];
    ++kept;
  }
  if (kept == 0) return std::numeric_limits<double>::quiet_NaN();
  if (weight_sum == 0.0) return plain_sum / static_cast<double>(kept);
  return sum / weight_sum;
}

// sklearn precision_recall_fscore_support (beta = 1) from per-label counts.
PrecisionRecallF1 prf_from_counts(LabelCounts counts, Average average, double zero_division) {
  if (average == Average::kMicro) {
    double tp = 0, pred = 0, truth = 0;
    for (std::size_t i = 0; i < counts.tp.size(); ++i) {
      tp += counts.tp[i];
      pred += counts.pred[i];
      truth += counts.truth[i];
    }
    counts = {{tp}, {pred}, {truth}};
  }
  const std::size_t n = counts.tp.size();
  std::vector<double> precision(n), recall(n), f1(n);
  for (std::size_t i = 0; i < n; ++i) {
    precision[i] = prf_divide(counts.tp[i], counts.pred[i], zero_division);
    recall[i] = prf_divide(counts.tp[i], counts.truth[i], zero_division);
    // sklearn >= 1.3: F = 2 tp / (2 tp + fn + fp) = 2 tp / (true + pred).
    f1[i] = prf_divide(2.0 * counts.tp[i], counts.truth[i] + counts.pred[i], zero_division);
  }
  if (n == 0) return {zero_division, zero_division, zero_division};
  const std::vector<double>* weights = average == Average::kWeighted ? &counts.truth : nullptr;
  return {nan_average(precision, weights), nan_average(recall, weights), nan_average(f1, weights)};
}

LabelCounts single_label_counts(std::span<const int64_t> y_true, std::span<const int64_t> y_pred,
                                const std::vector<int64_t>& labels) {
  LabelCounts c{std::vector<double>(labels.size()), std::vector<double>(labels.size()),
                std::vector<double>(labels.size())};
  for (std::size_t i = 0; i < y_true.size(); ++i) {
    std::size_t t = index_of(labels, y_true[i]), p = index_of(labels, y_pred[i]);
    c.truth[t] += 1;
    c.pred[p] += 1;
    if (t == p) c.tp[t] += 1;
  }
  return c;
}

std::vector<LabelSet> normalized_sets(std::span<const LabelSet> sets) {
  std::vector<LabelSet> out(sets.begin(), sets.end());
  for (auto& s : out) {
    std::sort(s.begin(), s.end());
    s.erase(std::unique(s.begin(), s.end()), s.end());
  }
  return out;
}

std::size_t intersection_size(const LabelSet& a, const LabelSet& b) {
  std::size_t n = 0;
  auto i = a.begin(), j = b.begin();
  while (i != a.end() && j != b.end()) {
    if (*i < *j) ++i;
    else if (*j < *i) ++j;
    else {
      ++n;
      ++i;
      ++j;
    }
  }
  return n;
}

}  // namespace

const char* average_name(Average average) {
  switch (average) {
    case Average::kBinary: return "binary";
    case Average::kMicro: return "micro";
    case Average::kMacro: return "macro";
    case Average::kWeighted: return "weighted";
    case Average::kSamples: return "samples";
  }
  return "?";
}

ConfusionMatrix confusion_matrix(std::span<const int64_t> y_true, std::span<const int64_t> y_pred) {
  check_pair(y_true.size(), y_pred.size(), "confusion_matrix");
  ConfusionMatrix m;
  m.labels = label_union(y_true, y_pred);
  const std::size_t k = m.labels.size();
  m.counts.assign(k * k, 0);
  for (std::size_t i = 0; i < y_true.size(); ++i) {
    ++m.counts[index_of(m.labels, y_true[i]) * k + index_of(m.labels, y_pred[i])];
  }
  return m;
}

double accuracy(std::span<const int64_t> y_true, std::span<const int64_t> y_pred) {
  check_pair(y_true.size(), y_pred.size(), "accuracy");
  std::size_t correct = 0;
  for (std::size_t i = 0; i < y_true.size(); ++i) correct += y_true[i] == y_pred[i];
  return static_cast<double>(correct) / static_cast<double>(y_true.size());
}

PrecisionRecallF1 precision_recall_f1(std::span<const int64_t> y_true, std::span<const int64_t> y_pred,
                                      Average average, const PrfOptions& options) {
  check_pair(y_true.size(), y_pred.size(), "precision_recall_f1");
  std::vector<int64_t> labels = label_union(y_true, y_pred);
  if (average == Average::kSamples) {
    throw InvalidArgument("precision_recall_f1: average 'samples' needs multi-label input "
                          "(use multilabel_precision_recall_f1)");
  }
  LabelCounts counts = single_label_counts(y_true, y_pred, labels);
  if (average == Average::kBinary) {
    if (labels.size() > 2) {
      throw InvalidArgument(fmt::format(
          "precision_recall_f1: average 'binary' needs at most 2 labels, found {} ({}); use micro, macro or weighted",
          labels.size(), fmt::join(labels, ", ")));
    }
    auto it = std::find(labels.begin(), labels.end(), options.pos_label);
    if (it == labels.end()) {
      if (labels.size() == 2) {
        throw InvalidArgument(fmt::format("precision_recall_f1: pos_label {} is not one of the labels {}",
                                          options.pos_label, fmt::join(labels, ", ")));
      }
      // sklearn: an absent positive class has tp = pred = true = 0.
      counts = {{0.0}, {0.0}, {0.0}};
    } else {
      std::size_t i = static_cast<std::size_t>(it - labels.begin());
      counts = {{counts.tp[i]}, {counts.pred[i]}, {counts.truth[i]}};
    }
    return prf_from_counts(counts, Average::kMacro, options.zero_division);
  }
  return prf_from_counts(std::move(counts), average, options.zero_division);
}

double precision_score(std::span<const int64_t> y_true, std::span<const int64_t> y_pred, Average average,
                       const PrfOptions& options) {
  return precision_recall_f1(y_true, y_pred, average, options).precision;
}

double recall_score(std::span<const int64_t> y_true, std::span<const int64_t> y_pred, Average average,
                    const PrfOptions& options) {
  return precision_recall_f1(y_true, y_pred, average, options).recall;
}

double f1_score(std::span<const int64_t> y_true, std::span<const int64_t> y_pred, Average average,
                const PrfOptions& options) {
  return precision_recall_f1(y_true, y_pred, average, options).f1;
}

std::vector<ClassScores> per_class_scores(std::span<const int64_t> y_true, std::span<const int64_t> y_pred,
                                          double zero_division) {
  check_pair(y_true.size(), y_pred.size(), "per_class_scores");
  std::vector<int64_t> labels = label_union(y_true, y_pred);
  LabelCounts c = single_label_counts(y_true, y_pred, labels);
  std::vector<ClassScores> rows;
  rows.reserve(labels.size());
  for (std::size_t i = 0; i < labels.size(); ++i) {
    rows.push_back({labels[i], prf_divide(c.tp[i], c.pred[i], zero_division),
                    prf_divide(c.tp[i], c.truth[i], zero_division),
                    prf_divide(2.0 * c.tp[i], c.truth[i] + c.pred[i], zero_division),
                    static_cast<int64_t>(c.truth[i])});
  }
  return rows;
}

double matthews_corrcoef(std::span<const int64_t> y_true, std::span<const int64_t> y_pred) {
  check_pair(y_true.size(), y_pred.size(), "matthews_corrcoef");
  ConfusionMatrix m = confusion_matrix(y_true, y_pred);
  const std::size_t k = m.labels.size();
  std::vector<double> t_sum(k, 0.0), p_sum(k, 0.0);
  double n_correct = 0.0;
  for (std::size_t i = 0; i < k; ++i) {
    for (std::size_t j = 0; j < k; ++j) {
      double c = static_cast<double>(m.at(i, j));
      t_sum[i] += c;
      p_sum[j] += c;
    }
    n_correct += static_cast<double>(m.at(i, i));
  }
  double n_samples = 0.0, dot_tp = 0.0, dot_pp = 0.0, dot_tt = 0.0;
  for (std::size_t i = 0; i < k; ++i) {
    n_samples += p_sum[i];
    dot_tp += t_sum[i] * p_sum[i];
    dot_pp += p_sum[i] * p_sum[i];
    dot_tt += t_sum[i] * t_sum[i];
  }
  double cov_ytyp = n_correct * n_samples - dot_tp;
  double cov_ypyp = n_samples * n_samples - dot_pp;
  double cov_ytyt = n_samples * n_samples - dot_tt;
  double cov_ypyp_ytyt = cov_ypyp * cov_ytyt;
  if (cov_ypyp_ytyt == 0.0) return 0.0;
  return cov_ytyp / std::sqrt(cov_ypyp_ytyt);
}

double cohen_kappa(std::span<const int64_t> y1, std::span<const int64_t> y2, KappaWeights weights,
                   double replace_undefined_by) {
  check_pair(y1.size(), y2.size(), "cohen_kappa");
  ConfusionMatrix m = confusion_matrix(y1, y2);
  const std::size_t k = m.labels.size();
  std::vector<double> sum0(k, 0.0), sum1(k, 0.0);  // column sums, row sums
  for (std::size_t i = 0; i < k; ++i) {
    for (std::size_t j = 0; j < k; ++j) {
      double c = static_cast<double>(m.at(i, j));
      sum0[j] += c;
      sum1[i] += c;
    }
  }
  double total = 0.0;
  for (double v : sum0) total += v;
  if (total == 0.0) return replace_undefined_by;
  auto weight = [&](std::size_t i, std::size_t j) {
    double d = std::fabs(static_cast<double>(i) - static_cast<double>(j));
    switch (weights) {
      case KappaWeights::kNone: return i == j ? 0.0 : 1.0;
      case KappaWeights::kLinear: return d;
      case KappaWeights::kQuadratic: return d * d;
    }
    return 0.0;
  };
  double observed = 0.0, expected = 0.0;
  for (std::size_t i = 0; i < k; ++i) {
    for (std::size_t j = 0; j < k; ++j) {
      double w = weight(i, j);
      observed += w * static_cast<double>(m.at(i, j));
      // sklearn: expected = outer(sum0, sum1) / sum(sum0), indexed [i][j] = sum0[i] * sum1[j].
      expected += w * (sum0[i] * sum1[j] / total);
    }
  }
  if (expected == 0.0) return replace_undefined_by;
  return 1.0 - observed / expected;
}

double subset_accuracy(std::span<const LabelSet> y_true, std::span<const LabelSet> y_pred) {
  check_pair(y_true.size(), y_pred.size(), "subset_accuracy");
  std::vector<LabelSet> t = normalized_sets(y_true), p = normalized_sets(y_pred);
  std::size_t correct = 0;
  for (std::size_t i = 0; i < t.size(); ++i) correct += t[i] == p[i];
  return static_cast<double>(correct) / static_cast<double>(t.size());
}

double hamming_loss(std::span<const LabelSet> y_true, std::span<const LabelSet> y_pred) {
  check_pair(y_true.size(), y_pred.size(), "hamming_loss");
  std::vector<LabelSet> t = normalized_sets(y_true), p = normalized_sets(y_pred);
  std::vector<int64_t> all;
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < t.size(); ++i) {
    all.insert(all.end(), t[i].begin(), t[i].end());
    all.insert(all.end(), p[i].begin(), p[i].end());
    wrong += t[i].size() + p[i].size() - 2 * intersection_size(t[i], p[i]);
  }
  std::sort(all.begin(), all.end());
  std::size_t n_labels = static_cast<std::size_t>(std::unique(all.begin(), all.end()) - all.begin());
  if (n_labels == 0) return 0.0;
  return static_cast<double>(wrong) / (static_cast<double>(t.size()) * static_cast<double>(n_labels));
}

PrecisionRecallF1 multilabel_precision_recall_f1(std::span<const LabelSet> y_true, std::span<const LabelSet> y_pred,
                                                 Average average, const PrfOptions& options) {
  check_pair(y_true.size(), y_pred.size(), "multilabel_precision_recall_f1");
  if (average == Average::kBinary) {
    throw InvalidArgument("multilabel_precision_recall_f1: average 'binary' is not defined for multi-label input; "
                          "use micro, macro, weighted or samples");
  }
  std::vector<LabelSet> t = normalized_sets(y_true), p = normalized_sets(y_pred);
  const double zd = options.zero_division;
  if (average == Average::kSamples) {
    std::vector<double> precision(t.size()), recall(t.size()), f1(t.size());
    for (std::size_t i = 0; i < t.size(); ++i) {
      double tp = static_cast<double>(intersection_size(t[i], p[i]));
      double n_pred = static_cast<double>(p[i].size()), n_true = static_cast<double>(t[i].size());
      precision[i] = prf_divide(tp, n_pred, zd);
      recall[i] = prf_divide(tp, n_true, zd);
      f1[i] = prf_divide(2.0 * tp, n_true + n_pred, zd);
    }
    return {nan_average(precision, nullptr), nan_average(recall, nullptr), nan_average(f1, nullptr)};
  }
  std::vector<int64_t> labels;
  for (std::size_t i = 0; i < t.size(); ++i) {
    labels.insert(labels.end(), t[i].begin(), t[i].end());
    labels.insert(labels.end(), p[i].begin(), p[i].end());
  }
  std::sort(labels.begin(), labels.end());
  labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
  LabelCounts c{std::vector<double>(labels.size()), std::vector<double>(labels.size()),
                std::vector<double>(labels.size())};
  for (std::size_t i = 0; i < t.size(); ++i) {
    for (int64_t l : t[i]) c.truth[index_of(labels, l)] += 1;
    for (int64_t l : p[i]) {
      std::size_t j = index_of(labels, l);
      c.pred[j] += 1;
      if (std::binary_search(t[i].begin(), t[i].end(), l)) c.tp[j] += 1;
    }
  }
  return prf_from_counts(std::move(c), average, zd);
}

}  // namespace xling::metrics
