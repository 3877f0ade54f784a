// xling_metrics_probe: a test-only driver for the parity harness
// (tools/parity/checks_eval_metrics.py). Reads one JSON document on stdin,
//   {"requests": [{"metric": "<name>", ...arguments}, ...]}
// and prints {"results": [...]} with one object per request, or {"error": <type>,
// "message": <text>} for a request the library rejects. NaN prints as null.
// Metrics: classification, multilabel, correlation, retrieval, retrieval_mean,
// bitext_mining, xsim, seqeval, cross_lingual.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "metrics/classification.hpp"
#include "metrics/correlation.hpp"
#include "metrics/cross_lingual.hpp"
#include "metrics/mining.hpp"
#include "metrics/retrieval.hpp"
#include "metrics/seqeval.hpp"
#include "xling/errors.hpp"

namespace xm = xling::metrics;
using nlohmann::json;

namespace {

// "zero_division": a number, or the string "nan" (JSON has no NaN literal).
double zero_division_of(const json& r) {
  if (!r.contains("zero_division")) return 0.0;
  const json& v = r.at("zero_division");
  return v.is_string() && v.get<std::string>() == "nan" ? std::numeric_limits<double>::quiet_NaN() : v.get<double>();
}

json prf_json(const xm::PrecisionRecallF1& p) { return {{"precision", p.precision}, {"recall", p.recall}, {"f1", p.f1}}; }

json classification(const json& r) {
  auto t = r.at("y_true").get<std::vector<int64_t>>();
  auto p = r.at("y_pred").get<std::vector<int64_t>>();
  xm::PrfOptions o{zero_division_of(r), r.value("pos_label", int64_t{1})};
  json out = {
      {"accuracy", xm::accuracy(t, p)},
      {"mcc", xm::matthews_corrcoef(t, p)},
      {"kappa", xm::cohen_kappa(t, p)},
      {"kappa_linear", xm::cohen_kappa(t, p, xm::KappaWeights::kLinear)},
      {"kappa_quadratic", xm::cohen_kappa(t, p, xm::KappaWeights::kQuadratic)},
      {"micro", prf_json(xm::precision_recall_f1(t, p, xm::Average::kMicro, o))},
      {"macro", prf_json(xm::precision_recall_f1(t, p, xm::Average::kMacro, o))},
      {"weighted", prf_json(xm::precision_recall_f1(t, p, xm::Average::kWeighted, o))},
  };
  if (r.value("binary", false)) out["binary"] = prf_json(xm::precision_recall_f1(t, p, xm::Average::kBinary, o));
  return out;
}

json multilabel(const json& r) {
  auto t = r.at("y_true").get<std::vector<xm::LabelSet>>();
  auto p = r.at("y_pred").get<std::vector<xm::LabelSet>>();
  xm::PrfOptions o{zero_division_of(r), 1};
  return {
      {"subset_accuracy", xm::subset_accuracy(t, p)},
      {"hamming_loss", xm::hamming_loss(t, p)},
      {"micro", prf_json(xm::multilabel_precision_recall_f1(t, p, xm::Average::kMicro, o))},
      {"macro", prf_json(xm::multilabel_precision_recall_f1(t, p, xm::Average::kMacro, o))},
      {"weighted", prf_json(xm::multilabel_precision_recall_f1(t, p, xm::Average::kWeighted, o))},
      {"samples", prf_json(xm::multilabel_precision_recall_f1(t, p, xm::Average::kSamples, o))},
  };
}

json correlation(const json& r) {
  auto x = r.at("x").get<std::vector<double>>();
  auto y = r.at("y").get<std::vector<double>>();
  return {{"pearson", xm::pearson(x, y)}, {"spearman", xm::spearman(x, y)}, {"kendall_tau_b", xm::kendall_tau_b(x, y)}};
}

int64_t top_k_of(const json& r) {
  return r.contains("k") && !r.at("k").is_null() ? r.at("k").get<int64_t>() : xm::kAllDocuments;
}

json retrieval(const json& r) {
  auto s = r.at("scores").get<std::vector<double>>();
  auto rel = r.at("relevance").get<std::vector<double>>();
  const int64_t k = top_k_of(r);
  json out = {
      {"ndcg", xm::retrieval_ndcg(s, rel, k)},
      {"mrr", xm::retrieval_reciprocal_rank(s, rel, k)},
      {"recall", xm::retrieval_recall(s, rel, k)},
      {"map", xm::retrieval_average_precision(s, rel, k)},
      {"precision", xm::retrieval_precision(s, rel, k)},
      {"precision_adaptive", xm::retrieval_precision(s, rel, k, /*adaptive_k=*/true)},
  };
  if (k != xm::kAllDocuments) {
    std::vector<std::string> ids;
    if (r.contains("doc_ids")) ids = r.at("doc_ids").get<std::vector<std::string>>();
    out["trec_map_cut"] = xm::trec_map_cut(s, rel, k, ids);
    out["trec_ndcg_cut"] = xm::trec_ndcg_cut(s, rel, k, ids);
  }
  return out;
}

json retrieval_mean(const json& r) {
  std::vector<xm::RetrievalQuery> queries;
  for (const json& q : r.at("queries")) {
    queries.push_back({q.at("scores").get<std::vector<double>>(), q.at("relevance").get<std::vector<double>>()});
  }
  const int64_t k = top_k_of(r);
  const std::string action = r.value("empty_target_action", std::string("neg"));
  xm::EmptyTargetAction a = action == "pos"    ? xm::EmptyTargetAction::kPos
                            : action == "skip" ? xm::EmptyTargetAction::kSkip
                            : action == "error" ? xm::EmptyTargetAction::kError
                                                : xm::EmptyTargetAction::kNeg;
  auto mean = [&](auto fn) { return xm::mean_over_queries(queries, fn, a); };
  return {
      {"ndcg", mean([&](const xm::RetrievalQuery& q) { return xm::retrieval_ndcg(q.scores, q.relevance, k); })},
      {"mrr", mean([&](const xm::RetrievalQuery& q) { return xm::retrieval_reciprocal_rank(q.scores, q.relevance, k); })},
      {"recall", mean([&](const xm::RetrievalQuery& q) { return xm::retrieval_recall(q.scores, q.relevance, k); })},
      {"map",
       mean([&](const xm::RetrievalQuery& q) { return xm::retrieval_average_precision(q.scores, q.relevance, k); })},
      {"precision", mean([&](const xm::RetrievalQuery& q) { return xm::retrieval_precision(q.scores, q.relevance, k); })},
  };
}

// Rows of floats -> flat storage + a view.
struct Embeddings {
  std::vector<float> values;
  int64_t rows = 0, dim = 0;
  explicit Embeddings(const json& m) {
    rows = static_cast<int64_t>(m.size());
    dim = rows > 0 ? static_cast<int64_t>(m[0].size()) : 1;
    for (const json& row : m) {
      if (static_cast<int64_t>(row.size()) != dim) throw xling::InvalidArgument("probe: ragged embedding matrix");
      for (const json& v : row) values.push_back(v.get<float>());
    }
  }
  xm::EmbeddingMatrix view() const { return {values, rows, dim}; }
};

json bitext_mining(const json& r) {
  Embeddings src(r.at("source")), tgt(r.at("target"));
  std::vector<int64_t> gold;
  if (r.contains("gold")) gold = r.at("gold").get<std::vector<int64_t>>();
  auto m = xm::bitext_mining(src.view(), tgt.view(), gold);
  return {{"accuracy", m.accuracy}, {"precision", m.precision}, {"recall", m.recall}, {"f1", m.f1},
          {"predictions", m.predictions}};
}

json xsim(const json& r) {
  Embeddings src(r.at("source")), tgt(r.at("target"));
  xm::XsimOptions o;
  const std::string margin = r.value("margin", std::string("ratio"));
  o.margin = margin == "distance" ? xm::XsimMargin::kDistance
             : margin == "absolute" ? xm::XsimMargin::kAbsolute
                                    : xm::XsimMargin::kRatio;
  o.k = r.value("k", int64_t{4});
  if (r.contains("texts")) o.texts = r.at("texts").get<std::vector<std::string>>();
  auto x = xm::xsim(src.view(), tgt.view(), o);
  return {{"errors", x.errors}, {"total", x.total}, {"error_rate", x.error_rate}, {"predictions", x.predictions}};
}

json entity_scores(const xm::EntityScores& s) {
  return {{"precision", s.precision}, {"recall", s.recall}, {"f1", s.f1}, {"support", s.support}};
}

json seqeval(const json& r) {
  auto t = r.at("y_true").get<std::vector<xm::TagSequence>>();
  auto p = r.at("y_pred").get<std::vector<xm::TagSequence>>();
  xm::SeqevalOptions o;
  o.mode = r.value("mode", std::string("default")) == "strict" ? xm::SeqevalMode::kStrictIob2 : xm::SeqevalMode::kDefault;
  o.zero_division = r.value("zero_division", 0.0);
  auto rep = xm::seqeval_report(t, p, o);
  json per_type = json::object();
  for (const auto& row : rep.per_type) per_type[row.type] = entity_scores(row.scores);
  return {{"per_type", per_type},
          {"micro", entity_scores(rep.micro)},
          {"macro", entity_scores(rep.macro)},
          {"weighted", entity_scores(rep.weighted)}};
}

json cross_lingual(const json& r) {
  std::vector<xm::LanguageScore> scores;
  for (const json& s : r.at("scores")) {
    scores.push_back({s.at("language").get<std::string>(), s.at("score").get<double>(), s.value("count", int64_t{1})});
  }
  xm::CrossLingualOptions o;
  o.worst_k = r.value("worst_k", std::size_t{3});
  if (r.contains("source_language")) o.source_language = r.at("source_language").get<std::string>();
  auto sum = xm::summarize(scores, o);
  json worst = json::array();
  for (const auto& w : sum.worst) worst.push_back(w.language);
  json out = {{"item_weighted_mean", sum.item_weighted_mean}, {"macro_mean", sum.macro_mean}, {"worst", worst}};
  if (sum.transfer_gap) out["transfer_gap"] = *sum.transfer_gap;
  if (r.contains("predictions")) {
    out["consistency"] = xm::consistency(r.at("predictions").get<std::vector<std::vector<int64_t>>>());
  }
  return out;
}

json dispatch(const json& r) {
  const std::string metric = r.at("metric").get<std::string>();
  if (metric == "classification") return classification(r);
  if (metric == "multilabel") return multilabel(r);
  if (metric == "correlation") return correlation(r);
  if (metric == "retrieval") return retrieval(r);
  if (metric == "retrieval_mean") return retrieval_mean(r);
  if (metric == "bitext_mining") return bitext_mining(r);
  if (metric == "xsim") return xsim(r);
  if (metric == "seqeval") return seqeval(r);
  if (metric == "cross_lingual") return cross_lingual(r);
  throw xling::InvalidArgument("probe: unknown metric '" + metric + "'");
}

}  // namespace

int main() {
  std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  json request;
  try {
    request = json::parse(input);
  } catch (const json::exception& e) {
    std::fprintf(stderr, "xling_metrics_probe: stdin is not JSON: %s\n", e.what());
    return 2;
  }
  json results = json::array();
  for (const json& r : request.at("requests")) {
    try {
      results.push_back(dispatch(r));
    } catch (const xling::InvalidArgument& e) {
      results.push_back({{"error", "InvalidArgument"}, {"message", e.what()}});
    } catch (const json::exception& e) {
      results.push_back({{"error", "BadRequest"}, {"message", e.what()}});
    }
  }
  std::cout << json{{"results", results}}.dump() << "\n";
  return 0;
}
