// Per-query ranking metrics: nDCG, MRR, recall, MAP and precision at k exactly as
// torchmetrics 1.9's functional retrieval metrics compute them, and trec_eval's map_cut /
// ndcg_cut as MTEB reports them through pytrec_eval.
//
// Each query is a score per candidate document and the candidate's graded relevance (>= 0,
// 0 = not relevant). Scores are rounded to float32 before ranking, as both references do
// (torchmetrics casts preds to float32; trec_eval keeps float similarities).
//
// torchmetrics semantics (retrieval_* functions):
//  - nDCG uses the graded relevance as a linear gain, the discount 1 / log2(rank + 1), and
//    averages the gain over tied scores (sklearn's tie-aware DCG); the ideal DCG ranks by
//    relevance. A query without relevant documents scores 0.
//  - MRR, recall, MAP and precision binarize the relevance (relevant = relevance > 0), and
//    count a relevant document as retrieved only when its score is > 0 (torchmetrics 1.9
//    masks targets with `preds > 0`). A query without relevant documents scores 0.
//  - MAP@k averages precision over the relevant documents found in the top k, i.e. it
//    divides by the number of relevant documents retrieved, not by all relevant ones.
//  - precision@k divides by k even when the list is shorter, unless adaptive_k.
//  - Ties: torch's topk / argsort order tied scores in an unspecified way; here tied
//    documents keep their input order. Only nDCG is tie-exact (it averages over ties).
//
// trec_eval semantics (trec_* functions, relevance_level 1, integer relevance):
//  - the ranking sorts by float32 score descending, ties by document id descending
//    (strcmp), the id of document i being `doc_ids[i]` or else the decimal string of i.
//  - map_cut@k: sum of precision@rank over relevant documents in the top k, divided by the
//    number of relevant documents of the query (all of them, also those below k).
//  - ndcg_cut@k: gain = relevance level, discount 1 / log2(rank + 1), ideal DCG from all
//    judged documents sorted by relevance, both cut at k. No tie averaging, no
//    `preds > 0` mask. A query without relevant documents scores 0.
//
// Invalid input (lengths differ, empty list, k <= 0, non-finite values, negative
// relevance, non-integer relevance for trec_*) throws xling::InvalidArgument.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace xling::metrics {

// top_k meaning "every document" (torchmetrics top_k=None).
inline constexpr int64_t kAllDocuments = -1;

double retrieval_ndcg(std::span<const double> scores, std::span<const double> relevance,
                      int64_t top_k = kAllDocuments);
double retrieval_reciprocal_rank(std::span<const double> scores, std::span<const double> relevance,
                                 int64_t top_k = kAllDocuments);
double retrieval_recall(std::span<const double> scores, std::span<const double> relevance,
                        int64_t top_k = kAllDocuments);
double retrieval_average_precision(std::span<const double> scores, std::span<const double> relevance,
                                   int64_t top_k = kAllDocuments);
// adaptive_k: divide by min(k, number of documents) instead of k.
double retrieval_precision(std::span<const double> scores, std::span<const double> relevance,
                           int64_t top_k = kAllDocuments, bool adaptive_k = false);

// trec_eval measures; `doc_ids` (empty, or one per document) only break score ties.
double trec_map_cut(std::span<const double> scores, std::span<const double> relevance, int64_t k,
                    std::span<const std::string> doc_ids = {});
double trec_ndcg_cut(std::span<const double> scores, std::span<const double> relevance, int64_t k,
                     std::span<const std::string> doc_ids = {});

// A ranked result list (document ids, best first) judged by qrels (document id -> relevance,
// unjudged = 0), as MTEB scores corpus retrieval through pytrec_eval:
//   ndcg@k    trec ndcg_cut: DCG of the list's top k (gain = relevance, discount 1/log2(rank+1))
//             over the ideal DCG of all judged documents cut at k
//   mrr@k     1 / rank of the first relevant (relevance > 0) document in the top k, else 0
//   recall@k  relevant documents in the top k / relevant judged documents (0 when none)
//   map@k     trec map_cut: sum of precision@rank at relevant ranks in the top k / relevant judged
//   precision@k  relevant documents in the top k / k
// InvalidArgument for another name, k <= 0 or a negative relevance.
double ranked_list_metric(const std::string& name, int64_t k, std::span<const std::string> ranked,
                          const std::map<std::string, double>& qrels);

struct RetrievalQuery {
  std::vector<double> scores;
  std::vector<double> relevance;
};

// What a query without any relevant document contributes to a mean (torchmetrics'
// empty_target_action): kNeg 0.0 (default), kPos 1.0, kSkip nothing, kError throws
// InvalidArgument. trec_eval / MTEB average such queries as 0 (kNeg).
enum class EmptyTargetAction { kNeg, kPos, kSkip, kError };

using QueryMetric = std::function<double(const RetrievalQuery&)>;

// Mean of `metric` over queries (torchmetrics' RetrievalMetric.compute with aggregation
// "mean"); 0.0 when no query is left.
double mean_over_queries(std::span<const RetrievalQuery> queries, const QueryMetric& metric,
                         EmptyTargetAction empty_target_action = EmptyTargetAction::kNeg);

}  // namespace xling::metrics
