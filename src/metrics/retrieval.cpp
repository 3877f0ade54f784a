// torchmetrics- and trec_eval-compatible ranking metrics (see retrieval.hpp for the exact
// semantics and where the two differ).
#include "metrics/retrieval.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "xling/errors.hpp"

namespace xling::metrics {
namespace {

void check_query(std::span<const double> scores, std::span<const double> relevance, const char* what) {
  if (scores.size() != relevance.size()) {
    throw InvalidArgument(
        fmt::format("{}: {} scores but {} relevance values", what, scores.size(), relevance.size()));
  }
  if (scores.empty()) throw InvalidArgument(fmt::format("{}: the query has no documents", what));
  for (std::size_t i = 0; i < scores.size(); ++i) {
    if (!std::isfinite(scores[i])) {
      throw InvalidArgument(fmt::format("{}: score of document {} is not finite ({})", what, i, scores[i]));
    }
    if (!std::isfinite(relevance[i]) || relevance[i] < 0.0) {
      throw InvalidArgument(
          fmt::format("{}: relevance of document {} must be finite and >= 0, found {}", what, i, relevance[i]));
    }
  }
}

void check_top_k(int64_t top_k, const char* what) {
  if (top_k <= 0 && top_k != kAllDocuments) {
    throw InvalidArgument(fmt::format("{}: top_k must be a positive integer (or kAllDocuments), found {}", what, top_k));
  }
}

std::vector<float> as_float32(std::span<const double> scores) {
  std::vector<float> out(scores.size());
  for (std::size_t i = 0; i < scores.size(); ++i) out[i] = static_cast<float>(scores[i]);
  return out;
}

// Documents by float32 score, best first; tied documents keep their input order.
std::vector<std::size_t> rank_documents(const std::vector<float>& scores) {
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  return order;
}

// The number of documents the top-k cut keeps (torchmetrics: min(k, n); None means n).
std::size_t kept(int64_t top_k, std::size_t n) {
  if (top_k == kAllDocuments) return n;
  return std::min(static_cast<std::size_t>(top_k), n);
}

// Binary "hit" per ranked position: relevant and scored > 0 (torchmetrics' preds > 0 mask).
struct BinaryRanking {
  std::vector<bool> hits;     // by rank
  double relevant_total = 0;  // relevant documents in the query, unmasked
};

BinaryRanking binary_ranking(std::span<const double> scores, std::span<const double> relevance) {
  std::vector<float> s = as_float32(scores);
  std::vector<std::size_t> order = rank_documents(s);
  BinaryRanking r;
  r.hits.resize(order.size());
  for (std::size_t rank = 0; rank < order.size(); ++rank) {
    std::size_t d = order[rank];
    r.hits[rank] = relevance[d] > 0.0 && s[d] > 0.0f;
  }
  for (double rel : relevance) r.relevant_total += rel > 0.0 ? 1.0 : 0.0;
  return r;
}

double discount(std::size_t rank) { return 1.0 / std::log2(static_cast<double>(rank) + 2.0); }

// trec_eval's ranking: float32 score descending, ties by document id descending (strcmp).
std::vector<std::size_t> trec_order(std::span<const double> scores, std::span<const std::string> doc_ids,
                                    const char* what) {
  const std::size_t n = scores.size();
  if (!doc_ids.empty() && doc_ids.size() != n) {
    throw InvalidArgument(fmt::format("{}: {} doc_ids for {} documents", what, doc_ids.size(), n));
  }
  std::vector<std::string> ids;
  if (doc_ids.empty()) {
    ids.reserve(n);
    for (std::size_t i = 0; i < n; ++i) ids.push_back(std::to_string(i));
    doc_ids = ids;
  }
  std::vector<float> s = as_float32(scores);
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (s[a] != s[b]) return s[a] > s[b];
    return doc_ids[b].compare(doc_ids[a]) < 0;  // strcmp(b, a) < 0: larger id first
  });
  return order;
}

void check_trec(std::span<const double> scores, std::span<const double> relevance, int64_t k, const char* what) {
  check_query(scores, relevance, what);
  if (k <= 0) throw InvalidArgument(fmt::format("{}: cutoff k must be positive, found {}", what, k));
  for (std::size_t i = 0; i < relevance.size(); ++i) {
    if (relevance[i] != std::floor(relevance[i])) {
      throw InvalidArgument(
          fmt::format("{}: trec_eval relevance levels are integers; document {} has {}", what, i, relevance[i]));
    }
  }
}

}  // namespace

double retrieval_ndcg(std::span<const double> scores, std::span<const double> relevance, int64_t top_k) {
  check_query(scores, relevance, "retrieval_ndcg");
  check_top_k(top_k, "retrieval_ndcg");
  const std::size_t n = scores.size();
  const std::size_t k = kept(top_k, n);
  std::vector<float> s = as_float32(scores);
  std::vector<std::size_t> order = rank_documents(s);
  // sklearn's _tie_average_dcg: a group of tied scores spreads its mean gain over the
  // discounts of the positions it occupies.
  double dcg = 0.0;
  for (std::size_t start = 0; start < n;) {
    std::size_t end = start + 1;
    while (end < n && s[order[end]] == s[order[start]]) ++end;
    double gain = 0.0, discounts = 0.0;
    for (std::size_t r = start; r < end; ++r) {
      gain += relevance[order[r]];
      if (r < k) discounts += discount(r);
    }
    dcg += gain / static_cast<double>(end - start) * discounts;
    start = end;
  }
  std::vector<double> ideal(relevance.begin(), relevance.end());
  std::sort(ideal.begin(), ideal.end(), std::greater<>());
  double idcg = 0.0;
  for (std::size_t r = 0; r < k; ++r) idcg += ideal[r] * discount(r);
  return idcg == 0.0 ? 0.0 : dcg / idcg;
}

double retrieval_reciprocal_rank(std::span<const double> scores, std::span<const double> relevance, int64_t top_k) {
  check_query(scores, relevance, "retrieval_reciprocal_rank");
  check_top_k(top_k, "retrieval_reciprocal_rank");
  BinaryRanking r = binary_ranking(scores, relevance);
  const std::size_t k = kept(top_k, scores.size());
  for (std::size_t rank = 0; rank < k; ++rank) {
    if (r.hits[rank]) return 1.0 / static_cast<double>(rank + 1);
  }
  return 0.0;
}

double retrieval_recall(std::span<const double> scores, std::span<const double> relevance, int64_t top_k) {
  check_query(scores, relevance, "retrieval_recall");
  check_top_k(top_k, "retrieval_recall");
  BinaryRanking r = binary_ranking(scores, relevance);
  if (r.relevant_total == 0.0) return 0.0;
  const std::size_t k = kept(top_k, scores.size());
  double found = 0.0;
  for (std::size_t rank = 0; rank < k; ++rank) found += r.hits[rank] ? 1.0 : 0.0;
  return found / r.relevant_total;
}

double retrieval_average_precision(std::span<const double> scores, std::span<const double> relevance,
                                   int64_t top_k) {
  check_query(scores, relevance, "retrieval_average_precision");
  check_top_k(top_k, "retrieval_average_precision");
  BinaryRanking r = binary_ranking(scores, relevance);
  const std::size_t k = kept(top_k, scores.size());
  double sum = 0.0, found = 0.0;
  for (std::size_t rank = 0; rank < k; ++rank) {
    if (!r.hits[rank]) continue;
    found += 1.0;
    sum += found / static_cast<double>(rank + 1);
  }
  return found == 0.0 ? 0.0 : sum / found;
}

double retrieval_precision(std::span<const double> scores, std::span<const double> relevance, int64_t top_k,
                           bool adaptive_k) {
  check_query(scores, relevance, "retrieval_precision");
  check_top_k(top_k, "retrieval_precision");
  const std::size_t n = scores.size();
  std::size_t divisor = top_k == kAllDocuments ? n : static_cast<std::size_t>(top_k);
  if (adaptive_k) divisor = std::min(divisor, n);
  BinaryRanking r = binary_ranking(scores, relevance);
  if (r.relevant_total == 0.0) return 0.0;
  const std::size_t k = kept(top_k, n);
  double found = 0.0;
  for (std::size_t rank = 0; rank < k; ++rank) found += r.hits[rank] ? 1.0 : 0.0;
  return found / static_cast<double>(divisor);
}

double trec_map_cut(std::span<const double> scores, std::span<const double> relevance, int64_t k,
                    std::span<const std::string> doc_ids) {
  check_trec(scores, relevance, k, "trec_map_cut");
  std::vector<std::size_t> order = trec_order(scores, doc_ids, "trec_map_cut");
  double num_rel = 0.0;
  for (double rel : relevance) num_rel += rel >= 1.0 ? 1.0 : 0.0;
  if (num_rel == 0.0) return 0.0;
  const std::size_t cut = std::min(static_cast<std::size_t>(k), order.size());
  double sum = 0.0, found = 0.0;
  for (std::size_t rank = 0; rank < cut; ++rank) {
    if (relevance[order[rank]] >= 1.0) {
      found += 1.0;
      sum += found / static_cast<double>(rank + 1);
    }
  }
  return sum / num_rel;
}

double trec_ndcg_cut(std::span<const double> scores, std::span<const double> relevance, int64_t k,
                     std::span<const std::string> doc_ids) {
  check_trec(scores, relevance, k, "trec_ndcg_cut");
  std::vector<std::size_t> order = trec_order(scores, doc_ids, "trec_ndcg_cut");
  const std::size_t cut = std::min(static_cast<std::size_t>(k), order.size());
  double dcg = 0.0;
  for (std::size_t rank = 0; rank < cut; ++rank) dcg += relevance[order[rank]] * discount(rank);
  std::vector<double> ideal(relevance.begin(), relevance.end());
  std::sort(ideal.begin(), ideal.end(), std::greater<>());
  double idcg = 0.0;
  for (std::size_t rank = 0; rank < cut; ++rank) idcg += ideal[rank] * discount(rank);
  return idcg == 0.0 ? 0.0 : dcg / idcg;
}

double ranked_list_metric(const std::string& name, int64_t k, std::span<const std::string> ranked,
                          const std::map<std::string, double>& qrels) {
  if (k <= 0) throw InvalidArgument(fmt::format("ranked_list_metric: k must be positive, got {}", k));
  std::size_t relevant = 0;
  std::vector<double> ideal;
  for (const auto& [id, rel] : qrels) {
    if (!(rel >= 0) || !std::isfinite(rel)) throw InvalidArgument(fmt::format("relevance of '{}' must be >= 0, got {}", id, rel));
    relevant += rel > 0;
    ideal.push_back(rel);
  }
  auto rel_of = [&](const std::string& id) {
    auto it = qrels.find(id);
    return it == qrels.end() ? 0.0 : it->second;
  };
  const std::size_t cut = std::min(static_cast<std::size_t>(k), ranked.size());
  if (name == "ndcg") {
    double dcg = 0;
    for (std::size_t r = 0; r < cut; ++r) dcg += rel_of(ranked[r]) * discount(r);
    std::sort(ideal.begin(), ideal.end(), std::greater<>());
    double idcg = 0;
    for (std::size_t r = 0; r < std::min(static_cast<std::size_t>(k), ideal.size()); ++r) idcg += ideal[r] * discount(r);
    return idcg == 0 ? 0.0 : dcg / idcg;
  }
  if (name == "mrr") {
    for (std::size_t r = 0; r < cut; ++r) {
      if (rel_of(ranked[r]) > 0) return 1.0 / static_cast<double>(r + 1);
    }
    return 0.0;
  }
  std::size_t hits = 0;
  double ap = 0;
  for (std::size_t r = 0; r < cut; ++r) {
    if (rel_of(ranked[r]) > 0) {
      ++hits;
      ap += static_cast<double>(hits) / static_cast<double>(r + 1);
    }
  }
  if (name == "recall") return relevant ? static_cast<double>(hits) / static_cast<double>(relevant) : 0.0;
  if (name == "map") return relevant ? ap / static_cast<double>(relevant) : 0.0;
  if (name == "precision") return static_cast<double>(hits) / static_cast<double>(k);
  throw InvalidArgument(fmt::format("ranked_list_metric: unknown metric '{}' (ndcg, mrr, recall, map, precision)", name));
}

double mean_over_queries(std::span<const RetrievalQuery> queries, const QueryMetric& metric,
                         EmptyTargetAction empty_target_action) {
  double sum = 0.0;
  std::size_t count = 0;
  for (std::size_t q = 0; q < queries.size(); ++q) {
    const RetrievalQuery& query = queries[q];
    check_query(query.scores, query.relevance, "mean_over_queries");
    bool any_relevant = std::any_of(query.relevance.begin(), query.relevance.end(), [](double r) { return r > 0.0; });
    if (!any_relevant) {
      switch (empty_target_action) {
        case EmptyTargetAction::kNeg: ++count; continue;
        case EmptyTargetAction::kPos: sum += 1.0; ++count; continue;
        case EmptyTargetAction::kSkip: continue;
        case EmptyTargetAction::kError:
          throw InvalidArgument(fmt::format("mean_over_queries: query {} has no relevant document", q));
      }
    }
    sum += metric(query);
    ++count;
  }
  return count == 0 ? 0.0 : sum / static_cast<double>(count);
}

}  // namespace xling::metrics
