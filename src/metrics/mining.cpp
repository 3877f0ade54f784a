// MTEB bitext mining and LASER xSIM (see mining.hpp).
#include "metrics/mining.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "metrics/classification.hpp"
#include "xling/errors.hpp"

namespace xling::metrics {
namespace {

// Unit-length rows in double precision (zero rows stay zero).
std::vector<double> normalized_rows(const EmbeddingMatrix& m) {
  const std::size_t dim = static_cast<std::size_t>(m.dim());
  std::vector<double> out(static_cast<std::size_t>(m.rows()) * dim);
  for (int64_t i = 0; i < m.rows(); ++i) {
    std::span<const float> r = m.row(i);
    double norm = 0.0;
    for (float v : r) norm += static_cast<double>(v) * static_cast<double>(v);
    norm = std::sqrt(norm);
    double* dst = out.data() + static_cast<std::size_t>(i) * dim;
    for (std::size_t d = 0; d < dim; ++d) dst[d] = norm > 0.0 ? static_cast<double>(r[d]) / norm : 0.0;
  }
  return out;
}

double dot(const double* a, const double* b, std::size_t dim) {
  double s = 0.0;
  for (std::size_t d = 0; d < dim; ++d) s += a[d] * b[d];
  return s;
}

struct Neighbour {
  double cosine;
  int64_t index;
};

// Best first; equal cosines keep the lower index first.
bool better(const Neighbour& a, const Neighbour& b) {
  return a.cosine > b.cosine || (a.cosine == b.cosine && a.index < b.index);
}

// Keeps the k best neighbours seen so far, best first.
void offer(std::vector<Neighbour>& top, std::size_t k, Neighbour candidate) {
  if (top.size() == k && !better(candidate, top.back())) return;
  auto pos = std::upper_bound(top.begin(), top.end(), candidate, better);
  top.insert(pos, candidate);
  if (top.size() > k) top.pop_back();
}

void check_same_dim(const EmbeddingMatrix& a, const EmbeddingMatrix& b, const char* what) {
  if (a.dim() != b.dim()) {
    throw InvalidArgument(fmt::format("{}: source embeddings have dim {} but target embeddings {}", what, a.dim(),
                                      b.dim()));
  }
}

}  // namespace

EmbeddingMatrix::EmbeddingMatrix(std::span<const float> values, int64_t rows, int64_t dim)
    : values_(values), rows_(rows), dim_(dim) {
  if (rows < 0 || dim <= 0) {
    throw InvalidArgument(fmt::format("EmbeddingMatrix: rows must be >= 0 and dim > 0, found rows = {}, dim = {}",
                                      rows, dim));
  }
  if (values.size() != static_cast<std::size_t>(rows) * static_cast<std::size_t>(dim)) {
    throw InvalidArgument(fmt::format("EmbeddingMatrix: {} values for {} rows x {} dims (expected {})", values.size(),
                                      rows, dim, rows * dim));
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      throw InvalidArgument(fmt::format("EmbeddingMatrix: value {} (row {}, column {}) is not finite ({})", i,
                                        static_cast<int64_t>(i) / dim, static_cast<int64_t>(i) % dim, values[i]));
    }
  }
}

BitextMiningScores bitext_mining(const EmbeddingMatrix& source, const EmbeddingMatrix& target,
                                 std::span<const int64_t> gold) {
  check_same_dim(source, target, "bitext_mining");
  if (source.rows() == 0) throw InvalidArgument("bitext_mining: no source embeddings");
  if (target.rows() == 0) throw InvalidArgument("bitext_mining: no target embeddings");
  std::vector<int64_t> labels;
  if (gold.empty()) {
    if (source.rows() != target.rows()) {
      throw InvalidArgument(fmt::format(
          "bitext_mining: without gold indices both sides need the same rows, found {} source and {} target rows",
          source.rows(), target.rows()));
    }
    labels.resize(static_cast<std::size_t>(source.rows()));
    for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int64_t>(i);
  } else {
    if (static_cast<int64_t>(gold.size()) != source.rows()) {
      throw InvalidArgument(
          fmt::format("bitext_mining: {} gold indices for {} source rows", gold.size(), source.rows()));
    }
    for (std::size_t i = 0; i < gold.size(); ++i) {
      if (gold[i] < 0 || gold[i] >= target.rows()) {
        throw InvalidArgument(fmt::format("bitext_mining: gold[{}] = {} is not a target row (0..{})", i, gold[i],
                                          target.rows() - 1));
      }
    }
    labels.assign(gold.begin(), gold.end());
  }
  const std::size_t dim = static_cast<std::size_t>(source.dim());
  std::vector<double> x = normalized_rows(source), y = normalized_rows(target);
  BitextMiningScores out;
  out.predictions.resize(static_cast<std::size_t>(source.rows()));
  for (int64_t i = 0; i < source.rows(); ++i) {
    Neighbour best{-INFINITY, -1};
    for (int64_t j = 0; j < target.rows(); ++j) {
      Neighbour c{dot(&x[static_cast<std::size_t>(i) * dim], &y[static_cast<std::size_t>(j) * dim], dim), j};
      if (best.index < 0 || better(c, best)) best = c;
    }
    out.predictions[static_cast<std::size_t>(i)] = best.index;
  }
  out.accuracy = accuracy(labels, out.predictions);
  PrecisionRecallF1 prf = precision_recall_f1(labels, out.predictions, Average::kWeighted, {/*zero_division=*/0.0});
  out.precision = prf.precision;
  out.recall = prf.recall;
  out.f1 = prf.f1;
  return out;
}

XsimResult xsim(const EmbeddingMatrix& source, const EmbeddingMatrix& target, const XsimOptions& options) {
  check_same_dim(source, target, "xsim");
  if (source.rows() != target.rows()) {
    throw InvalidArgument(fmt::format("xsim: source has {} rows but target {}; row i must translate row i",
                                      source.rows(), target.rows()));
  }
  if (source.rows() == 0) throw InvalidArgument("xsim: no embeddings");
  if (options.k <= 0) throw InvalidArgument(fmt::format("xsim: k must be positive, found {}", options.k));
  if (!options.texts.empty() && static_cast<int64_t>(options.texts.size()) != source.rows()) {
    throw InvalidArgument(fmt::format("xsim: {} texts for {} rows", options.texts.size(), source.rows()));
  }
  const std::size_t n = static_cast<std::size_t>(source.rows());
  const std::size_t dim = static_cast<std::size_t>(source.dim());
  const std::size_t k = options.margin == XsimMargin::kAbsolute ? 1 : std::min(static_cast<std::size_t>(options.k), n);
  std::vector<double> x = normalized_rows(source), y = normalized_rows(target);

  // One pass over the similarity matrix: the k nearest targets of each source row and the k
  // nearest sources of each target row.
  std::vector<std::vector<Neighbour>> x_to_y(n), y_to_x(n);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      double c = dot(&x[i * dim], &y[j * dim], dim);
      offer(x_to_y[i], k, {c, static_cast<int64_t>(j)});
      if (options.margin != XsimMargin::kAbsolute) offer(y_to_x[j], k, {c, static_cast<int64_t>(i)});
    }
  }

  XsimResult out;
  out.total = static_cast<int64_t>(n);
  out.predictions.resize(n);
  if (options.margin == XsimMargin::kAbsolute) {
    for (std::size_t i = 0; i < n; ++i) out.predictions[i] = x_to_y[i][0].index;
  } else {
    auto average = [](const std::vector<Neighbour>& v) {
      double s = 0.0;
      for (const Neighbour& nb : v) s += nb.cosine;
      return s / static_cast<double>(v.size());
    };
    std::vector<double> avg_x(n), avg_y(n);
    for (std::size_t i = 0; i < n; ++i) {
      avg_x[i] = average(x_to_y[i]);
      avg_y[i] = average(y_to_x[i]);
    }
    for (std::size_t i = 0; i < n; ++i) {
      // numpy argmax: the first maximum, and the first NaN if any (0 / 0 ratio margins).
      std::size_t best = 0;
      double best_score = 0.0;
      for (std::size_t c = 0; c < x_to_y[i].size(); ++c) {
        const Neighbour& nb = x_to_y[i][c];
        double b = (avg_x[i] + avg_y[static_cast<std::size_t>(nb.index)]) / 2.0;
        double score = options.margin == XsimMargin::kRatio ? nb.cosine / b : nb.cosine - b;
        if (c == 0 || std::isnan(score) || score > best_score) {
          best = c;
          best_score = score;
          if (std::isnan(score)) break;
        }
      }
      out.predictions[i] = x_to_y[i][best].index;
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t p = static_cast<std::size_t>(out.predictions[i]);
    bool wrong = options.texts.empty() ? p != i : options.texts[p] != options.texts[i];
    out.errors += wrong ? 1 : 0;
  }
  out.error_rate = static_cast<double>(out.errors) / static_cast<double>(out.total);
  return out;
}

}  // namespace xling::metrics
