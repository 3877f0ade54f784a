// Hand-made cases for the ranking metrics (torchmetrics and trec_eval flavours, and where
// they differ), their edge cases (no relevant document, k beyond the list, tied and
// non-positive scores, float32 rounding), and bitext mining / xSIM on tiny embeddings.
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.hpp"

#include "metrics/mining.hpp"
#include "metrics/retrieval.hpp"
#include "xling/errors.hpp"

namespace xm = xling::metrics;
using Doubles = std::vector<double>;

using xling::testing::invalid_argument_message;

namespace {

constexpr double kEps = 1e-12;


double inv_log2(double rank) { return 1.0 / std::log2(rank + 1.0); }  // 1-based rank

}  // namespace

// ---------------------------------------------------------------- torchmetrics flavour

TEST(Retrieval, HandComputedQuery) {
  // Ranked: d0 (rel 0), d1 (rel 1), d2 (rel 0), d3 (rel 2).
  const Doubles s{0.9, 0.8, 0.7, 0.6}, r{0, 1, 0, 2};
  const double dcg = 1 * inv_log2(2) + 2 * inv_log2(4), idcg = 2 * inv_log2(1) + 1 * inv_log2(2);
  EXPECT_NEAR(xm::retrieval_ndcg(s, r), dcg / idcg, kEps);
  EXPECT_NEAR(xm::retrieval_ndcg(s, r, 2), inv_log2(2) / idcg, kEps);
  EXPECT_NEAR(xm::retrieval_reciprocal_rank(s, r), 0.5, kEps);
  EXPECT_NEAR(xm::retrieval_reciprocal_rank(s, r, 1), 0.0, kEps);
  EXPECT_NEAR(xm::retrieval_recall(s, r, 2), 0.5, kEps);
  EXPECT_NEAR(xm::retrieval_recall(s, r), 1.0, kEps);
  EXPECT_NEAR(xm::retrieval_average_precision(s, r), (1.0 / 2 + 2.0 / 4) / 2, kEps);
  EXPECT_NEAR(xm::retrieval_precision(s, r, 2), 0.5, kEps);
  EXPECT_NEAR(xm::retrieval_precision(s, r), 0.5, kEps);
}

TEST(Retrieval, KLargerThanTheList) {
  const Doubles s{0.9, 0.8, 0.7, 0.6}, r{0, 1, 0, 2};
  EXPECT_NEAR(xm::retrieval_ndcg(s, r, 100), xm::retrieval_ndcg(s, r), kEps);
  EXPECT_NEAR(xm::retrieval_recall(s, r, 100), 1.0, kEps);
  EXPECT_NEAR(xm::retrieval_average_precision(s, r, 100), 0.5, kEps);
  EXPECT_NEAR(xm::retrieval_reciprocal_rank(s, r, 100), 0.5, kEps);
  // torchmetrics divides by k, not by the list length, unless adaptive_k.
  EXPECT_NEAR(xm::retrieval_precision(s, r, 10), 0.2, kEps);
  EXPECT_NEAR(xm::retrieval_precision(s, r, 10, /*adaptive_k=*/true), 0.5, kEps);
  EXPECT_NEAR(xm::trec_map_cut(s, r, 100), xm::trec_map_cut(s, r, 4), kEps);
  EXPECT_NEAR(xm::trec_ndcg_cut(s, r, 100), xm::retrieval_ndcg(s, r), kEps);
}

TEST(Retrieval, NoRelevantDocumentScoresZeroNotNan) {
  const Doubles s{0.3, 0.2, 0.1}, r{0, 0, 0};
  for (int64_t k : {xm::kAllDocuments, int64_t{1}, int64_t{10}}) {
    EXPECT_EQ(xm::retrieval_ndcg(s, r, k), 0.0);
    EXPECT_EQ(xm::retrieval_reciprocal_rank(s, r, k), 0.0);
    EXPECT_EQ(xm::retrieval_recall(s, r, k), 0.0);
    EXPECT_EQ(xm::retrieval_average_precision(s, r, k), 0.0);
    EXPECT_EQ(xm::retrieval_precision(s, r, k), 0.0);
  }
  EXPECT_EQ(xm::trec_map_cut(s, r, 10), 0.0);
  EXPECT_EQ(xm::trec_ndcg_cut(s, r, 10), 0.0);
}

TEST(Retrieval, MeanOverQueriesEmptyTargetAction) {
  const std::vector<xm::RetrievalQuery> q{{{0.9, 0.1}, {1, 0}}, {{0.9, 0.1}, {0, 0}}};
  auto mrr = [](const xm::RetrievalQuery& x) { return xm::retrieval_reciprocal_rank(x.scores, x.relevance); };
  EXPECT_DOUBLE_EQ(xm::mean_over_queries(q, mrr), 0.5);
  EXPECT_DOUBLE_EQ(xm::mean_over_queries(q, mrr, xm::EmptyTargetAction::kPos), 1.0);
  EXPECT_DOUBLE_EQ(xm::mean_over_queries(q, mrr, xm::EmptyTargetAction::kSkip), 1.0);
  EXPECT_NE(invalid_argument_message([&] { xm::mean_over_queries(q, mrr, xm::EmptyTargetAction::kError); })
                .find("query 1"),
            std::string::npos);
  EXPECT_DOUBLE_EQ(xm::mean_over_queries(std::vector<xm::RetrievalQuery>{}, mrr), 0.0);
  const std::vector<xm::RetrievalQuery> bad{{{0.9, 0.1}, {0}}};
  EXPECT_THROW(xm::mean_over_queries(bad, mrr), xling::InvalidArgument);
}

TEST(Retrieval, TiedScores) {
  // nDCG averages the gain over tied documents (sklearn / torchmetrics).
  const Doubles s{1.0, 1.0}, r{1, 0};
  EXPECT_NEAR(xm::retrieval_ndcg(s, r), 0.5 * (1.0 + inv_log2(2)), kEps);
  EXPECT_NEAR(xm::retrieval_ndcg(s, Doubles{0, 1}), 0.5 * (1.0 + inv_log2(2)), kEps);
  EXPECT_NEAR(xm::retrieval_ndcg(s, r, 1), 0.5, kEps);
  // Binary metrics keep tied documents in input order.
  EXPECT_NEAR(xm::retrieval_reciprocal_rank(s, r), 1.0, kEps);
  EXPECT_NEAR(xm::retrieval_reciprocal_rank(s, Doubles{0, 1}), 0.5, kEps);
  // trec_eval breaks ties by document id, descending: "1" before "0".
  EXPECT_NEAR(xm::trec_ndcg_cut(s, r, 10), inv_log2(2), kEps);
  EXPECT_NEAR(xm::trec_map_cut(s, r, 10), 0.5, kEps);
  const std::vector<std::string> ids{"b", "a"};
  EXPECT_NEAR(xm::trec_ndcg_cut(s, r, 10, ids), 1.0, kEps);
  // Decimal ids compare as strings: "10" < "9".
  Doubles s11(11, 0.5), r11(11, 0);
  r11[10] = 1;
  // strcmp order, largest first: "9", "8", ..., "2", "10", "1", "0": document 10 ranks 9th.
  EXPECT_NEAR(xm::trec_map_cut(s11, r11, 100), 1.0 / 9.0, kEps);
}

TEST(Retrieval, ScoresAreRoundedToFloat32) {
  // 0.5 + 1e-12 and 0.5 are the same float: a tie, so input order decides.
  const Doubles s{0.5, 0.5 + 1e-12}, r{0, 1};
  EXPECT_NEAR(xm::retrieval_reciprocal_rank(s, r), 0.5, kEps);
  EXPECT_NEAR(xm::retrieval_ndcg(s, r), 0.5 * (1.0 + inv_log2(2)), kEps);
  EXPECT_NEAR(xm::trec_map_cut(s, r, 1), 1.0, kEps);  // tie; id "1" ranks first
}

TEST(Retrieval, NonPositiveScoresAreNotRetrievedByTorchmetrics) {
  // torchmetrics 1.9 masks targets with preds > 0 for MRR / MAP / recall / precision.
  const Doubles s{-0.5, -0.1}, r{1, 0};
  EXPECT_EQ(xm::retrieval_reciprocal_rank(s, r), 0.0);
  EXPECT_EQ(xm::retrieval_average_precision(s, r), 0.0);
  EXPECT_EQ(xm::retrieval_recall(s, r), 0.0);
  EXPECT_EQ(xm::retrieval_precision(s, r), 0.0);
  EXPECT_NEAR(xm::retrieval_ndcg(s, r), inv_log2(2), kEps);  // nDCG is not masked
  EXPECT_NEAR(xm::trec_map_cut(s, r, 2), 0.5, kEps);         // neither is trec_eval
}

TEST(Retrieval, MapCutDividesByAllRelevantDocuments) {
  const Doubles s{0.9, 0.8, 0.7, 0.6}, r{0, 1, 0, 2};
  // Within the top 2 only d1 is relevant: torchmetrics averages over retrieved relevant
  // documents (1/2 / 1), trec_eval over all relevant ones (1/2 / 2).
  EXPECT_NEAR(xm::retrieval_average_precision(s, r, 2), 0.5, kEps);
  EXPECT_NEAR(xm::trec_map_cut(s, r, 2), 0.25, kEps);
  EXPECT_NEAR(xm::trec_map_cut(s, r, 4), 0.5, kEps);
  const double idcg2 = 2 * inv_log2(1) + 1 * inv_log2(2);
  EXPECT_NEAR(xm::trec_ndcg_cut(s, r, 2), inv_log2(2) / idcg2, kEps);
}

TEST(Retrieval, InvalidInputThrows) {
  const Doubles s{0.9, 0.8}, r{0, 1};
  std::string msg = invalid_argument_message([&] { xm::retrieval_ndcg(s, Doubles{1}); });
  EXPECT_NE(msg.find("2 scores but 1 relevance"), std::string::npos) << msg;
  EXPECT_THROW(xm::retrieval_recall(Doubles{}, Doubles{}), xling::InvalidArgument);
  msg = invalid_argument_message([&] { xm::retrieval_precision(s, r, 0); });
  EXPECT_NE(msg.find("found 0"), std::string::npos) << msg;
  EXPECT_THROW(xm::retrieval_average_precision(s, r, -5), xling::InvalidArgument);
  EXPECT_THROW(xm::retrieval_reciprocal_rank(s, Doubles{0, -1}), xling::InvalidArgument);
  EXPECT_THROW(xm::retrieval_ndcg(Doubles{NAN, 0.1}, r), xling::InvalidArgument);
  EXPECT_THROW(xm::trec_map_cut(s, r, 0), xling::InvalidArgument);
  EXPECT_THROW(xm::trec_ndcg_cut(s, Doubles{0, 0.5}, 2), xling::InvalidArgument);
  const std::vector<std::string> ids{"a"};
  EXPECT_THROW(xm::trec_ndcg_cut(s, r, 2, ids), xling::InvalidArgument);
}

// ---------------------------------------------------------------- bitext mining

namespace {

struct Matrix {
  std::vector<float> values;
  int64_t rows, dim;
  xm::EmbeddingMatrix view() const { return {values, rows, dim}; }
};

// Target 0 is a hub: the plain-cosine neighbour of source 2 is target 3, the margin fixes it.
const Matrix kHubSource{{1, 0, 0, 0.8f, 0.6f, 0, 0.8f, 0, 0.6f, 0.6f, 0.5f, 0.5f}, 4, 3};
const Matrix kHubTarget{{1, 0.05f, 0.05f, 0.45f, 0.9f, 0, 0.3f, 0.2f, 0.9f, 0.7f, 0.5f, 0.55f}, 4, 3};

}  // namespace

TEST(Mining, NearestNeighbourAndWeightedF1) {
  const Matrix src{{1, 0, 0, 1, 1, 1}, 3, 2}, tgt{{0, 2, 3, 0, 1, 1.1f}, 3, 2};
  auto r = xm::bitext_mining(src.view(), tgt.view());
  EXPECT_EQ(r.predictions, (std::vector<int64_t>{1, 0, 2}));
  EXPECT_NEAR(r.accuracy, 1.0 / 3.0, kEps);
  EXPECT_NEAR(r.f1, 1.0 / 3.0, kEps);
  EXPECT_NEAR(r.precision, 1.0 / 3.0, kEps);
  const std::vector<int64_t> gold{1, 0, 2};
  auto g = xm::bitext_mining(src.view(), tgt.view(), gold);
  EXPECT_DOUBLE_EQ(g.accuracy, 1.0);
  EXPECT_DOUBLE_EQ(g.f1, 1.0);
  // Sizes may differ with gold indices.
  const Matrix two{{1, 0, 0, 1}, 2, 2};
  auto s2 = xm::bitext_mining(two.view(), tgt.view(), std::vector<int64_t>{1, 0});
  EXPECT_DOUBLE_EQ(s2.accuracy, 1.0);
}

TEST(Mining, XsimMarginFixesHubness) {
  auto plain = xm::xsim(kHubSource.view(), kHubTarget.view(), {xm::XsimMargin::kAbsolute, 4, {}});
  EXPECT_EQ(plain.predictions, (std::vector<int64_t>{0, 1, 3, 3}));
  EXPECT_EQ(plain.errors, 1);
  EXPECT_EQ(plain.total, 4);
  EXPECT_DOUBLE_EQ(plain.error_rate, 0.25);
  auto ratio = xm::xsim(kHubSource.view(), kHubTarget.view(), {xm::XsimMargin::kRatio, /*k=*/3, {}});
  EXPECT_EQ(ratio.predictions, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(ratio.errors, 0);
  auto distance = xm::xsim(kHubSource.view(), kHubTarget.view(), {xm::XsimMargin::kDistance, /*k=*/3, {}});
  EXPECT_EQ(distance.errors, 0);
  // k = 2 is too small a neighbourhood here: same error as plain cosine.
  EXPECT_EQ(xm::xsim(kHubSource.view(), kHubTarget.view(), {xm::XsimMargin::kRatio, 2, {}}).errors, 1);
  // k beyond the number of rows is capped.
  EXPECT_EQ(xm::xsim(kHubSource.view(), kHubTarget.view(), {xm::XsimMargin::kRatio, 100, {}}).total, 4);
  // Textual errors: predicting a row with the same text is no error.
  xm::XsimOptions texts{xm::XsimMargin::kAbsolute, 4, {"a", "b", "c", "c"}};
  EXPECT_EQ(xm::xsim(kHubSource.view(), kHubTarget.view(), texts).errors, 0);
}

TEST(Mining, ZeroEmbeddingIsNanFree) {
  const Matrix src{{0, 0, 1, 0}, 2, 2}, tgt{{0, 0, 1, 0}, 2, 2};
  auto r = xm::xsim(src.view(), tgt.view());
  EXPECT_EQ(r.total, 2);
  auto m = xm::bitext_mining(src.view(), tgt.view());
  EXPECT_FALSE(std::isnan(m.f1));
}

TEST(Mining, InvalidInputThrows) {
  const std::vector<float> v{1, 2, 3};
  std::string msg = invalid_argument_message([&] { xm::EmbeddingMatrix(v, 2, 2); });
  EXPECT_NE(msg.find("3 values for 2 rows x 2 dims"), std::string::npos) << msg;
  const std::vector<float> bad{1, NAN};
  EXPECT_THROW(xm::EmbeddingMatrix(bad, 1, 2), xling::InvalidArgument);
  EXPECT_THROW(xm::EmbeddingMatrix(v, 3, 0), xling::InvalidArgument);
  const Matrix a{{1, 0, 0, 1}, 2, 2}, b{{1, 0, 0}, 1, 3}, c{{1, 0}, 1, 2};
  EXPECT_THROW(xm::bitext_mining(a.view(), b.view()), xling::InvalidArgument);           // dims differ
  EXPECT_THROW(xm::bitext_mining(a.view(), c.view()), xling::InvalidArgument);           // rows differ, no gold
  EXPECT_THROW(xm::bitext_mining(a.view(), c.view(), std::vector<int64_t>{0, 1}), xling::InvalidArgument);
  EXPECT_THROW(xm::bitext_mining(a.view(), a.view(), std::vector<int64_t>{0}), xling::InvalidArgument);
  EXPECT_THROW(xm::xsim(a.view(), c.view()), xling::InvalidArgument);
  EXPECT_THROW(xm::xsim(a.view(), a.view(), {xm::XsimMargin::kRatio, 0, {}}), xling::InvalidArgument);
  EXPECT_THROW(xm::xsim(a.view(), a.view(), {xm::XsimMargin::kRatio, 4, {"only one"}}), xling::InvalidArgument);
}

// Ranked lists judged by qrels (MTEB corpus retrieval) agree with the candidate-list metrics
// (golden-checked above) when every judged document is a candidate ranked after the list.
TEST(RankedList, AgreesWithCandidateMetricsOnRandomLists) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 200; ++trial) {
    const int n_ranked = 5 + static_cast<int>(rng() % 30), n_extra = static_cast<int>(rng() % 4);
    std::vector<std::string> ranked;
    std::map<std::string, double> qrels;
    Doubles scores, rel;
    std::vector<std::string> ids;
    for (int i = 0; i < n_ranked + n_extra; ++i) {
      std::string id = "d" + std::to_string(trial) + "_" + std::to_string(i);
      double r = rng() % 3 == 0 ? static_cast<double>(1 + rng() % 3) : 0.0;
      if (i < n_ranked) ranked.push_back(id);
      if (r > 0 || rng() % 4 == 0) qrels[id] = r;  // some judged-irrelevant documents too
      scores.push_back(static_cast<double>(n_ranked + n_extra - i));  // positive, strictly descending
      rel.push_back(r);
      ids.push_back(id);
    }
    const int64_t k = 1 + static_cast<int64_t>(rng() % static_cast<unsigned>(n_ranked));
    EXPECT_NEAR(xm::ranked_list_metric("ndcg", k, ranked, qrels), xm::trec_ndcg_cut(scores, rel, k, ids), 1e-12);
    EXPECT_NEAR(xm::ranked_list_metric("map", k, ranked, qrels), xm::trec_map_cut(scores, rel, k, ids), 1e-12);
    EXPECT_NEAR(xm::ranked_list_metric("mrr", k, ranked, qrels), xm::retrieval_reciprocal_rank(scores, rel, k), 1e-12);
    EXPECT_NEAR(xm::ranked_list_metric("recall", k, ranked, qrels), xm::retrieval_recall(scores, rel, k), 1e-12);
    EXPECT_NEAR(xm::ranked_list_metric("precision", k, ranked, qrels), xm::retrieval_precision(scores, rel, k), 1e-12);
  }
  // A relevant document outside the list still counts in recall's denominator.
  std::map<std::string, double> q{{"a", 1}, {"z", 1}};
  EXPECT_DOUBLE_EQ(xm::ranked_list_metric("recall", 100, std::vector<std::string>{"b", "a"}, q), 0.5);
  EXPECT_DOUBLE_EQ(xm::ranked_list_metric("mrr", 1, std::vector<std::string>{"b", "a"}, q), 0.0);
  EXPECT_THROW(xm::ranked_list_metric("hits", 10, std::vector<std::string>{"a"}, q), xling::InvalidArgument);
  EXPECT_THROW(xm::ranked_list_metric("ndcg", 0, std::vector<std::string>{"a"}, q), xling::InvalidArgument);
}
