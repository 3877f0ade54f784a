// Golden values for the classification, correlation and retrieval metrics:
// tests/fixtures/hf/metrics/classification_correlation.json (scikit-learn / scipy, float64,
// compared to 1e-9 relative) and retrieval.json (torchmetrics float32, 1e-6 relative).
// Every numeric key of the fixtures is checked; an unknown key fails the test, so that a
// regenerated fixture cannot silently add values nobody compares.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/json.hpp"
#include "metrics/classification.hpp"
#include "metrics/correlation.hpp"
#include "metrics/retrieval.hpp"

namespace xm = xling::metrics;

namespace {

const std::string kDir = std::string(XLING_FIXTURES) + "/metrics/";

bool close_rel(double actual, double expected, double rtol) {
  double diff = std::fabs(actual - expected);
  return diff <= rtol * std::fabs(expected) || diff <= 1e-12;
}

struct Tally {
  int passed = 0;
  int failed = 0;
  double max_rel = 0.0;  // largest relative difference seen, for the log
  void check(const std::string& key, double actual, double expected, double rtol) {
    if (expected != 0.0) max_rel = std::max(max_rel, std::fabs(actual - expected) / std::fabs(expected));
    if (close_rel(actual, expected, rtol)) {
      ++passed;
    } else {
      ++failed;
      ADD_FAILURE() << key << ": xling " << fmt_double(actual) << " vs fixture " << fmt_double(expected)
                    << " (rtol " << rtol << ")";
    }
  }
  static std::string fmt_double(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
  }
};

}  // namespace

TEST(MetricGoldens, ClassificationAndCorrelation) {
  const nlohmann::json j = xling::core::read_json_file(kDir + "classification_correlation.json");
  const std::vector<int64_t> y_true = j.at("y_true").get<std::vector<int64_t>>();
  const std::vector<int64_t> y_pred = j.at("y_pred").get<std::vector<int64_t>>();
  ASSERT_EQ(y_true.size(), y_pred.size());
  ASSERT_FALSE(y_true.empty());

  using Avg = xm::Average;
  const std::map<std::string, std::function<double()>> classification = {
      {"accuracy", [&] { return xm::accuracy(y_true, y_pred); }},
      {"f1_macro", [&] { return xm::f1_score(y_true, y_pred, Avg::kMacro); }},
      {"f1_micro", [&] { return xm::f1_score(y_true, y_pred, Avg::kMicro); }},
      {"f1_weighted", [&] { return xm::f1_score(y_true, y_pred, Avg::kWeighted); }},
      {"precision_macro", [&] { return xm::precision_score(y_true, y_pred, Avg::kMacro); }},
      {"recall_macro", [&] { return xm::recall_score(y_true, y_pred, Avg::kMacro); }},
      {"mcc", [&] { return xm::matthews_corrcoef(y_true, y_pred); }},
      {"cohen_kappa", [&] { return xm::cohen_kappa(y_true, y_pred); }},
  };
  const nlohmann::json& corr = j.at("correlation");
  const std::vector<double> x = corr.at("x").get<std::vector<double>>();
  const std::vector<double> y = corr.at("y").get<std::vector<double>>();
  const std::map<std::string, std::function<double()>> correlation = {
      {"pearson", [&] { return xm::pearson(x, y); }},
      {"spearman", [&] { return xm::spearman(x, y); }},
      {"kendall_tau_b", [&] { return xm::kendall_tau_b(x, y); }},
  };

  Tally tally;
  for (const auto& [key, value] : j.items()) {
    if (key == "y_true" || key == "y_pred" || key == "correlation") continue;
    auto it = classification.find(key);
    if (it == classification.end()) {
      ADD_FAILURE() << "classification_correlation.json: key '" << key << "' has no check";
      ++tally.failed;
      continue;
    }
    tally.check(key, it->second(), value.get<double>(), 1e-9);
  }
  for (const auto& [key, value] : corr.items()) {
    if (key == "x" || key == "y") continue;
    auto it = correlation.find(key);
    if (it == correlation.end()) {
      ADD_FAILURE() << "classification_correlation.json: key 'correlation." << key << "' has no check";
      ++tally.failed;
      continue;
    }
    tally.check("correlation." + key, it->second(), value.get<double>(), 1e-9);
  }
  std::printf("[goldens] classification_correlation.json: %d passed, %d failed (max rel diff %.2g)\n", tally.passed,
              tally.failed, tally.max_rel);
  EXPECT_EQ(tally.passed, 11);
  EXPECT_EQ(tally.failed, 0);
}

namespace {

// "ndcg@10" -> the metric at that cutoff.
std::function<double(const xm::RetrievalQuery&)> retrieval_metric(const std::string& key) {
  auto at = key.find('@');
  if (at == std::string::npos) return nullptr;
  const std::string name = key.substr(0, at);
  const int64_t k = std::stoll(key.substr(at + 1));
  if (name == "ndcg") return [k](const xm::RetrievalQuery& q) { return xm::retrieval_ndcg(q.scores, q.relevance, k); };
  if (name == "mrr") {
    return [k](const xm::RetrievalQuery& q) { return xm::retrieval_reciprocal_rank(q.scores, q.relevance, k); };
  }
  if (name == "recall") return [k](const xm::RetrievalQuery& q) { return xm::retrieval_recall(q.scores, q.relevance, k); };
  if (name == "map") {
    return [k](const xm::RetrievalQuery& q) { return xm::retrieval_average_precision(q.scores, q.relevance, k); };
  }
  if (name == "precision") {
    return [k](const xm::RetrievalQuery& q) { return xm::retrieval_precision(q.scores, q.relevance, k); };
  }
  return nullptr;
}

}  // namespace

TEST(MetricGoldens, RetrievalTorchmetrics) {
  const nlohmann::json j = xling::core::read_json_file(kDir + "retrieval.json");
  std::vector<xm::RetrievalQuery> queries;
  Tally tally;
  for (std::size_t qi = 0; qi < j.at("queries").size(); ++qi) {
    const nlohmann::json& q = j.at("queries")[qi];
    xm::RetrievalQuery query{q.at("scores").get<std::vector<double>>(), q.at("relevance").get<std::vector<double>>()};
    ASSERT_EQ(query.scores.size(), query.relevance.size()) << "query " << qi;
    for (const auto& [key, value] : q.items()) {
      if (key == "scores" || key == "relevance") continue;
      auto metric = retrieval_metric(key);
      if (!metric) {
        ADD_FAILURE() << "retrieval.json: query " << qi << " key '" << key << "' has no check";
        ++tally.failed;
        continue;
      }
      tally.check("query " + std::to_string(qi) + " " + key, metric(query), value.get<double>(), 1e-6);
    }
    queries.push_back(std::move(query));
  }
  const int per_query = tally.passed;
  for (const auto& [key, value] : j.at("mean").items()) {
    auto metric = retrieval_metric(key);
    if (!metric) {
      ADD_FAILURE() << "retrieval.json: key 'mean." << key << "' has no check";
      ++tally.failed;
      continue;
    }
    tally.check("mean " + key, xm::mean_over_queries(queries, metric), value.get<double>(), 1e-6);
  }
  std::printf("[goldens] retrieval.json: %d passed (%d per query, %d means), %d failed (max rel diff %.2g)\n",
              tally.passed, per_query, tally.passed - per_query, tally.failed, tally.max_rel);
  EXPECT_EQ(queries.size(), 25u);
  EXPECT_EQ(tally.passed, 25 * 5 + 5);
  EXPECT_EQ(tally.failed, 0);
}
