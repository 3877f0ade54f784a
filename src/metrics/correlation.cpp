// Pearson, Spearman and Kendall tau-b with scipy semantics (see correlation.hpp).
#include "metrics/correlation.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>

#include <fmt/format.h>

#include "xling/errors.hpp"

namespace xling::metrics {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_inputs(std::span<const double> x, std::span<const double> y, const char* what) {
  if (x.size() != y.size()) {
    throw InvalidArgument(fmt::format("{}: x has {} values but y has {}", what, x.size(), y.size()));
  }
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i]) || !std::isfinite(y[i])) {
      throw InvalidArgument(fmt::format("{}: pair {} is not finite (x = {}, y = {})", what, i, x[i], y[i]));
    }
  }
}

bool is_constant(std::span<const double> v) {
  return std::all_of(v.begin(), v.end(), [&](double a) { return a == v[0]; });
}

double mean(std::span<const double> v) {
  double s = 0.0;
  for (double a : v) s += a;
  return s / static_cast<double>(v.size());
}

// scipy's pearsonr arithmetic: centre, scale by the largest deviation before taking the
// norm (no premature overflow), then a dot product of unit vectors clipped to [-1, 1].
double pearson_unchecked(std::span<const double> x, std::span<const double> y) {
  if (x.size() < 2 || is_constant(x) || is_constant(y)) return kNaN;
  const std::size_t n = x.size();
  double xmean = mean(x), ymean = mean(y);
  std::vector<double> xm(n), ym(n);
  double xmax = 0.0, ymax = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    xm[i] = x[i] - xmean;
    ym[i] = y[i] - ymean;
    xmax = std::max(xmax, std::fabs(xm[i]));
    ymax = std::max(ymax, std::fabs(ym[i]));
  }
  double xs = 0.0, ys = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    xs += (xm[i] / xmax) * (xm[i] / xmax);
    ys += (ym[i] / ymax) * (ym[i] / ymax);
  }
  double normx = xmax * std::sqrt(xs), normy = ymax * std::sqrt(ys);
  double r = 0.0;
  for (std::size_t i = 0; i < n; ++i) r += (xm[i] / normx) * (ym[i] / normy);
  return std::clamp(r, -1.0, 1.0);
}

// Discordant pairs of a sequence: pairs i < j with v[i] > v[j], by merge sort (O(n log n)).
int64_t count_inversions(std::vector<int64_t>& v, std::vector<int64_t>& buffer, std::size_t lo, std::size_t hi) {
  if (hi - lo < 2) return 0;
  std::size_t mid = lo + (hi - lo) / 2;
  int64_t count = count_inversions(v, buffer, lo, mid) + count_inversions(v, buffer, mid, hi);
  std::size_t i = lo, j = mid, k = lo;
  while (i < mid && j < hi) {
    if (v[j] < v[i]) {
      count += static_cast<int64_t>(mid - i);
      buffer[k++] = v[j++];
    } else {
      buffer[k++] = v[i++];
    }
  }
  while (i < mid) buffer[k++] = v[i++];
  while (j < hi) buffer[k++] = v[j++];
  std::copy(buffer.begin() + static_cast<std::ptrdiff_t>(lo), buffer.begin() + static_cast<std::ptrdiff_t>(hi),
            v.begin() + static_cast<std::ptrdiff_t>(lo));
  return count;
}

// Sum of cnt * (cnt - 1) / 2 over runs of adjacent elements that `equal` says are equal.
template <typename Equal>
int64_t tied_pairs(std::size_t n, Equal equal) {
  int64_t total = 0, run = 1;
  for (std::size_t i = 1; i <= n; ++i) {
    if (i < n && equal(i - 1, i)) {
      ++run;
    } else {
      total += run * (run - 1) / 2;
      run = 1;
    }
  }
  return total;
}

}  // namespace

std::vector<double> average_ranks(std::span<const double> values) {
  const std::size_t n = values.size();
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return values[a] < values[b]; });
  std::vector<double> ranks(n);
  for (std::size_t start = 0; start < n;) {
    std::size_t end = start + 1;
    while (end < n && values[order[end]] == values[order[start]]) ++end;
    // Positions start+1 .. end (1-based) share their mean.
    double rank = 0.5 * (static_cast<double>(start + 1) + static_cast<double>(end));
    for (std::size_t i = start; i < end; ++i) ranks[order[i]] = rank;
    start = end;
  }
  return ranks;
}

double pearson(std::span<const double> x, std::span<const double> y) {
  check_inputs(x, y, "pearson");
  return pearson_unchecked(x, y);
}

double spearman(std::span<const double> x, std::span<const double> y) {
  check_inputs(x, y, "spearman");
  if (x.size() < 2 || is_constant(x) || is_constant(y)) return kNaN;
  std::vector<double> rx = average_ranks(x), ry = average_ranks(y);
  // np.corrcoef of the ranks: covariance over the product of standard deviations, clipped.
  const std::size_t n = rx.size();
  double mx = mean(rx), my = mean(ry);
  double sxy = 0.0, sxx = 0.0, syy = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    double dx = rx[i] - mx, dy = ry[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  double dof = static_cast<double>(n - 1);
  double r = (sxy / dof) / std::sqrt(sxx / dof) / std::sqrt(syy / dof);
  return std::clamp(r, -1.0, 1.0);
}

double kendall_tau_b(std::span<const double> x, std::span<const double> y) {
  check_inputs(x, y, "kendall_tau_b");
  const std::size_t n = x.size();
  if (n < 2) return kNaN;
  // Sort by (x, y): pairs tied in x are then never counted as inversions of y.
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return x[a] < x[b] || (x[a] == x[b] && y[a] < y[b]);
  });
  // Dense ranks of y so that the inversion count works on integers.
  std::vector<double> y_sorted(y.begin(), y.end());
  std::sort(y_sorted.begin(), y_sorted.end());
  std::vector<int64_t> y_rank(n);
  for (std::size_t i = 0; i < n; ++i) {
    y_rank[i] = std::lower_bound(y_sorted.begin(), y_sorted.end(), y[order[i]]) - y_sorted.begin();
  }
  const int64_t xtie = tied_pairs(n, [&](std::size_t a, std::size_t b) { return x[order[a]] == x[order[b]]; });
  const int64_t ntie = tied_pairs(n, [&](std::size_t a, std::size_t b) {
    return x[order[a]] == x[order[b]] && y[order[a]] == y[order[b]];
  });
  const int64_t ytie = tied_pairs(n, [&](std::size_t a, std::size_t b) { return y_sorted[a] == y_sorted[b]; });
  std::vector<int64_t> buffer(n);
  const int64_t dis = count_inversions(y_rank, buffer, 0, n);
  const int64_t tot = static_cast<int64_t>(n) * static_cast<int64_t>(n - 1) / 2;
  if (xtie == tot || ytie == tot) return kNaN;
  const int64_t con_minus_dis = tot - xtie - ytie + ntie - 2 * dis;
  double tau = static_cast<double>(con_minus_dis) / std::sqrt(static_cast<double>(tot - xtie)) /
               std::sqrt(static_cast<double>(tot - ytie));
  return std::clamp(tau, -1.0, 1.0);
}

}  // namespace xling::metrics
