// Correlation coefficients with scipy 1.17/1.18 semantics: Pearson (scipy.stats.pearsonr),
// Spearman (pearson on average ranks, scipy.stats.spearmanr) and Kendall's tau-b
// (scipy.stats.kendalltau, variant "b", with its tie corrections).
//
// Undefined cases return NaN, never throw: fewer than two pairs, or an input whose values
// are all equal (scipy returns NaN with a ConstantInputWarning; for fewer than two pairs
// scipy's pearsonr raises instead, spearmanr and kendalltau return NaN). Inputs of different
// lengths, or containing NaN or infinity, throw xling::InvalidArgument (scipy would
// propagate the NaN).
#pragma once

#include <span>
#include <vector>

namespace xling::metrics {

double pearson(std::span<const double> x, std::span<const double> y);
double spearman(std::span<const double> x, std::span<const double> y);
double kendall_tau_b(std::span<const double> x, std::span<const double> y);

// 1-based ranks with ties sharing the average of their positions (scipy.stats.rankdata,
// method="average").
std::vector<double> average_ranks(std::span<const double> values);

}  // namespace xling::metrics
