#include "index/mmr.hpp"

#include <limits>

#include <fmt/format.h>

#include "xling/errors.hpp"

namespace xling::index {
namespace {

float dot(const float* a, const float* b, int dim) {
  double s = 0;
  for (int i = 0; i < dim; ++i) s += static_cast<double>(a[i]) * b[i];
  return static_cast<float>(s);
}

}  // namespace

std::vector<Selected> mmr_select(const float* query, const float* candidates, int64_t n, int dim, int64_t k, double lambda) {
  if (!(lambda >= 0 && lambda <= 1)) throw InvalidArgument(fmt::format("MMR lambda must be in [0, 1], got {}", lambda));
  if (k < 0) throw InvalidArgument(fmt::format("k must be >= 0, got {}", k));
  std::vector<float> rel(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) rel[static_cast<std::size_t>(i)] = dot(query, candidates + i * dim, dim);
  std::vector<float> max_sim(static_cast<std::size_t>(n), -std::numeric_limits<float>::infinity());
  std::vector<bool> taken(static_cast<std::size_t>(n), false);
  std::vector<Selected> out;
  for (int64_t step = 0; step < std::min(k, n); ++step) {
    int64_t best = -1;
    double best_score = -std::numeric_limits<double>::infinity();
    for (int64_t i = 0; i < n; ++i) {
      auto u = static_cast<std::size_t>(i);
      if (taken[u]) continue;
      double redundancy = out.empty() ? 0.0 : static_cast<double>(max_sim[u]);
      double score = lambda * rel[u] - (1 - lambda) * redundancy;
      if (score > best_score) {
        best_score = score;
        best = i;
      }
    }
    taken[static_cast<std::size_t>(best)] = true;
    out.push_back({best, rel[static_cast<std::size_t>(best)]});
    for (int64_t i = 0; i < n; ++i) {
      auto u = static_cast<std::size_t>(i);
      if (!taken[u]) max_sim[u] = std::max(max_sim[u], dot(candidates + best * dim, candidates + i * dim, dim));
    }
  }
  return out;
}

}  // namespace xling::index
