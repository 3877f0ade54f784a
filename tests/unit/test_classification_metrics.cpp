// Hand-made cases for the classification, correlation, seqeval and cross-lingual metrics:
// sklearn / scipy / seqeval docstring examples, zero division, single-class input, the
// label set as the union of both sides, seqeval's default vs strict chunking, and the
// InvalidArgument contract for malformed input.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.hpp"

#include "metrics/classification.hpp"
#include "metrics/correlation.hpp"
#include "metrics/cross_lingual.hpp"
#include "metrics/seqeval.hpp"
#include "xling/errors.hpp"

namespace xm = xling::metrics;
using xm::Average;
using Labels = std::vector<int64_t>;

using xling::testing::invalid_argument_message;

namespace {

constexpr double kEps = 1e-12;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();


}  // namespace

// ---------------------------------------------------------------- single-label

TEST(Classification, SklearnDocstringMulticlass) {
  const Labels t{0, 1, 2, 0, 1, 2}, p{0, 2, 1, 0, 0, 1};
  EXPECT_NEAR(xm::accuracy(t, p), 1.0 / 3.0, kEps);
  EXPECT_NEAR(xm::f1_score(t, p, Average::kMacro), 0.26666666666666666, kEps);
  EXPECT_NEAR(xm::f1_score(t, p, Average::kMicro), 1.0 / 3.0, kEps);
  EXPECT_NEAR(xm::f1_score(t, p, Average::kWeighted), 0.26666666666666666, kEps);
  EXPECT_NEAR(xm::precision_score(t, p, Average::kMacro), 0.2222222222222222, kEps);
  EXPECT_NEAR(xm::recall_score(t, p, Average::kMacro), 1.0 / 3.0, kEps);
}

TEST(Classification, MicroEqualsAccuracyForSingleLabel) {
  const Labels t{3, 1, 4, 1, 5, 9, 2, 6}, p{3, 1, 4, 1, 5, 2, 6, 5};
  auto prf = xm::precision_recall_f1(t, p, Average::kMicro);
  EXPECT_NEAR(prf.precision, xm::accuracy(t, p), kEps);
  EXPECT_NEAR(prf.recall, xm::accuracy(t, p), kEps);
  EXPECT_NEAR(prf.f1, xm::accuracy(t, p), kEps);
}

TEST(Classification, ZeroDivision) {
  // Class 1 is never predicted: its precision is 0/0.
  const Labels t{0, 0, 1}, p{0, 0, 0};
  EXPECT_NEAR(xm::precision_score(t, p, Average::kMacro), 1.0 / 3.0, kEps);  // (2/3 + 0) / 2
  EXPECT_NEAR(xm::precision_score(t, p, Average::kMacro, {/*zero_division=*/1.0}), 5.0 / 6.0, kEps);
  // NaN entries are left out of the mean (sklearn's _nanaverage).
  EXPECT_NEAR(xm::precision_score(t, p, Average::kMacro, {/*zero_division=*/kNaN}), 2.0 / 3.0, kEps);
  EXPECT_NEAR(xm::recall_score(t, p, Average::kMacro), 0.5, kEps);
  // F1 = 2 tp / (true + pred) has a non-zero denominator for class 1: 0 whatever zero_division.
  EXPECT_NEAR(xm::f1_score(t, p, Average::kMacro), 0.4, kEps);
  EXPECT_NEAR(xm::f1_score(t, p, Average::kMacro, {/*zero_division=*/1.0}), 0.4, kEps);
}

TEST(Classification, LabelSetIsUnionOfTrueAndPredicted) {
  // Label 2 only occurs in y_pred: it counts for macro (F1 0) but weighs 0 in weighted.
  const Labels t{0, 0}, p{0, 2};
  EXPECT_NEAR(xm::f1_score(t, p, Average::kMacro), 1.0 / 3.0, kEps);
  EXPECT_NEAR(xm::f1_score(t, p, Average::kWeighted), 2.0 / 3.0, kEps);
  EXPECT_NEAR(xm::recall_score(t, p, Average::kMacro, {/*zero_division=*/1.0}), 0.75, kEps);
  auto rows = xm::per_class_scores(t, p);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].label, 0);
  EXPECT_EQ(rows[0].support, 2);
  EXPECT_EQ(rows[1].label, 2);
  EXPECT_EQ(rows[1].support, 0);
  EXPECT_DOUBLE_EQ(rows[1].recall, 0.0);
  auto cm = xm::confusion_matrix(t, p);
  EXPECT_EQ(cm.labels, (Labels{0, 2}));
  EXPECT_EQ(cm.counts, (Labels{1, 1, 0, 0}));
}

TEST(Classification, SingleClassIsNanFreeExceptKappa) {
  const Labels t{1, 1, 1}, p{1, 1, 1};
  EXPECT_DOUBLE_EQ(xm::accuracy(t, p), 1.0);
  EXPECT_DOUBLE_EQ(xm::f1_score(t, p, Average::kMacro), 1.0);
  EXPECT_DOUBLE_EQ(xm::f1_score(t, p, Average::kWeighted), 1.0);
  EXPECT_DOUBLE_EQ(xm::matthews_corrcoef(t, p), 0.0);  // sklearn: undefined -> 0
  // sklearn 1.9: kappa is undefined here and returns replace_undefined_by (NaN by default).
  EXPECT_TRUE(std::isnan(xm::cohen_kappa(t, p)));
  EXPECT_DOUBLE_EQ(xm::cohen_kappa(t, p, xm::KappaWeights::kNone, /*replace_undefined_by=*/0.0), 0.0);
  // All wrong with one class each side: every value is finite.
  const Labels t2{0, 0}, p2{1, 1};
  for (Average a : {Average::kMicro, Average::kMacro, Average::kWeighted}) {
    auto prf = xm::precision_recall_f1(t2, p2, a);
    EXPECT_FALSE(std::isnan(prf.precision) || std::isnan(prf.recall) || std::isnan(prf.f1)) << xm::average_name(a);
    EXPECT_DOUBLE_EQ(prf.f1, 0.0);
  }
  EXPECT_DOUBLE_EQ(xm::matthews_corrcoef(t2, p2), 0.0);
}

TEST(Classification, Binary) {
  auto prf = xm::precision_recall_f1(Labels{0, 1, 1, 0}, Labels{1, 1, 0, 0}, Average::kBinary);
  EXPECT_DOUBLE_EQ(prf.precision, 0.5);
  EXPECT_DOUBLE_EQ(prf.recall, 0.5);
  EXPECT_DOUBLE_EQ(prf.f1, 0.5);
  // pos_label absent from a one-class input: tp = pred = true = 0.
  prf = xm::precision_recall_f1(Labels{0, 0}, Labels{0, 0}, Average::kBinary);
  EXPECT_DOUBLE_EQ(prf.f1, 0.0);
  prf = xm::precision_recall_f1(Labels{0, 1, 1}, Labels{0, 1, 0}, Average::kBinary, {0.0, /*pos_label=*/0});
  EXPECT_DOUBLE_EQ(prf.precision, 0.5);
  EXPECT_DOUBLE_EQ(prf.recall, 1.0);
  EXPECT_NE(invalid_argument_message([] {
              xm::precision_recall_f1(Labels{0, 1, 2}, Labels{0, 1, 2}, Average::kBinary);
            }).find("at most 2 labels"),
            std::string::npos);
  EXPECT_NE(invalid_argument_message([] {
              xm::precision_recall_f1(Labels{0, 1}, Labels{0, 1}, Average::kBinary, {0.0, /*pos_label=*/5});
            }).find("pos_label 5"),
            std::string::npos);
  EXPECT_THROW(xm::precision_recall_f1(Labels{0, 1}, Labels{0, 1}, Average::kSamples), xling::InvalidArgument);
}

TEST(Classification, MatthewsAndKappa) {
  EXPECT_NEAR(xm::matthews_corrcoef(Labels{1, 1, 1, -1}, Labels{1, -1, 1, 1}), -1.0 / 3.0, kEps);
  EXPECT_DOUBLE_EQ(xm::matthews_corrcoef(Labels{0, 1, 2}, Labels{0, 1, 2}), 1.0);
  // sklearn docstring: negative=0, neutral=1, positive=2.
  const Labels y1{0, 2, 0, 1, 2}, y2{0, 2, 0, 1, 0};
  EXPECT_NEAR(xm::cohen_kappa(y1, y2), 0.6875, kEps);
  EXPECT_NEAR(xm::cohen_kappa(y1, y2, xm::KappaWeights::kLinear), 0.5833333333333333, kEps);
  EXPECT_NEAR(xm::cohen_kappa(y1, y2, xm::KappaWeights::kQuadratic), 0.5, kEps);
  EXPECT_DOUBLE_EQ(xm::cohen_kappa(Labels{0, 1, 0, 1}, Labels{0, 1, 0, 1}), 1.0);
}

TEST(Classification, MismatchedOrEmptyInputThrows) {
  std::string msg = invalid_argument_message([] { xm::accuracy(Labels{0, 1, 2}, Labels{0, 1}); });
  EXPECT_NE(msg.find("3 samples"), std::string::npos) << msg;
  EXPECT_NE(msg.find("has 2"), std::string::npos) << msg;
  EXPECT_THROW(xm::f1_score(Labels{}, Labels{}, Average::kMacro), xling::InvalidArgument);
  EXPECT_THROW(xm::matthews_corrcoef(Labels{1}, Labels{}), xling::InvalidArgument);
  EXPECT_THROW(xm::cohen_kappa(Labels{1, 2}, Labels{1}), xling::InvalidArgument);
  EXPECT_THROW(xm::confusion_matrix(Labels{1, 2}, Labels{1}), xling::InvalidArgument);
}

// ---------------------------------------------------------------- multi-label

TEST(Classification, MultiLabel) {
  const std::vector<xm::LabelSet> t{{2, 1}, {3}, {}}, p{{1, 1}, {4, 3}, {}};  // order and duplicates ignored
  auto micro = xm::multilabel_precision_recall_f1(t, p, Average::kMicro);
  EXPECT_NEAR(micro.f1, 2.0 / 3.0, kEps);
  auto macro = xm::multilabel_precision_recall_f1(t, p, Average::kMacro);
  EXPECT_NEAR(macro.precision, 0.5, kEps);
  EXPECT_NEAR(macro.recall, 0.5, kEps);
  EXPECT_NEAR(macro.f1, 0.5, kEps);
  auto weighted = xm::multilabel_precision_recall_f1(t, p, Average::kWeighted);
  EXPECT_NEAR(weighted.f1, 2.0 / 3.0, kEps);
  auto samples = xm::multilabel_precision_recall_f1(t, p, Average::kSamples);
  EXPECT_NEAR(samples.precision, 0.5, kEps);
  EXPECT_NEAR(samples.recall, 0.5, kEps);
  EXPECT_NEAR(samples.f1, 4.0 / 9.0, kEps);
  EXPECT_NEAR(xm::subset_accuracy(t, p), 1.0 / 3.0, kEps);
  EXPECT_NEAR(xm::hamming_loss(t, p), 1.0 / 6.0, kEps);
  EXPECT_THROW(xm::multilabel_precision_recall_f1(t, p, Average::kBinary), xling::InvalidArgument);
  EXPECT_THROW(xm::subset_accuracy(t, std::vector<xm::LabelSet>{{1}}), xling::InvalidArgument);
}

// ---------------------------------------------------------------- correlation

TEST(Correlation, PerfectAndReversed) {
  const std::vector<double> x{1, 2, 3, 4}, y{2, 4, 6, 8}, r{4, 3, 2, 1};
  EXPECT_NEAR(xm::pearson(x, y), 1.0, kEps);
  EXPECT_NEAR(xm::pearson(x, r), -1.0, kEps);
  EXPECT_NEAR(xm::spearman(x, r), -1.0, kEps);
  EXPECT_NEAR(xm::kendall_tau_b(x, y), 1.0, kEps);
  EXPECT_NEAR(xm::kendall_tau_b(x, r), -1.0, kEps);
}

TEST(Correlation, TiesUseAverageRanksAndTauB) {
  EXPECT_EQ(xm::average_ranks(std::vector<double>{10, 20, 20, 5}), (std::vector<double>{2, 3.5, 3.5, 1}));
  const std::vector<double> x{1, 2, 2, 3}, y{1, 3, 2, 4};
  EXPECT_NEAR(xm::spearman(x, y), 0.9486832980505139, kEps);        // scipy.stats.spearmanr
  EXPECT_NEAR(xm::kendall_tau_b(x, y), 0.912870929175277, kEps);    // 5 / sqrt(5 * 6)
  EXPECT_NEAR(xm::kendall_tau_b(std::vector<double>{1, 2, 3, 4}, y), 2.0 / 3.0, kEps);
}

TEST(Correlation, UndefinedIsNan) {
  const std::vector<double> c{2, 2, 2}, v{1, 2, 3};
  EXPECT_TRUE(std::isnan(xm::pearson(c, v)));
  EXPECT_TRUE(std::isnan(xm::spearman(v, c)));
  EXPECT_TRUE(std::isnan(xm::kendall_tau_b(c, v)));
  const std::vector<double> one{1.0};
  EXPECT_TRUE(std::isnan(xm::pearson(one, one)));
  EXPECT_TRUE(std::isnan(xm::spearman(one, one)));
  EXPECT_TRUE(std::isnan(xm::kendall_tau_b(std::vector<double>{}, std::vector<double>{})));
}

TEST(Correlation, BadInputThrows) {
  std::string msg = invalid_argument_message([] { xm::pearson(std::vector<double>{1, 2}, std::vector<double>{1}); });
  EXPECT_NE(msg.find("2 values"), std::string::npos) << msg;
  EXPECT_THROW(xm::spearman(std::vector<double>{1, kNaN}, std::vector<double>{1, 2}), xling::InvalidArgument);
  EXPECT_THROW(xm::kendall_tau_b(std::vector<double>{1, INFINITY}, std::vector<double>{1, 2}), xling::InvalidArgument);
}

// ---------------------------------------------------------------- seqeval

namespace {
using Sentences = std::vector<xm::TagSequence>;
}

TEST(Seqeval, DocstringExample) {
  const Sentences t{{"O", "O", "B-MISC", "I-MISC", "B-MISC", "O", "O"}, {"B-PER", "I-PER", "O"}};
  const Sentences p{{"O", "O", "B-MISC", "I-MISC", "B-MISC", "I-MISC", "O"}, {"B-PER", "I-PER", "O"}};
  for (auto mode : {xm::SeqevalMode::kDefault, xm::SeqevalMode::kStrictIob2}) {
    auto r = xm::seqeval_report(t, p, {mode});
    EXPECT_NEAR(r.micro.f1, 2.0 / 3.0, kEps);
    EXPECT_NEAR(r.macro.f1, 0.75, kEps);
    EXPECT_NEAR(r.weighted.f1, 2.0 / 3.0, kEps);
    ASSERT_EQ(r.per_type.size(), 2u);
    EXPECT_EQ(r.per_type[0].type, "MISC");
    EXPECT_NEAR(r.per_type[0].scores.f1, 0.5, kEps);
    EXPECT_EQ(r.per_type[0].scores.support, 2);
    EXPECT_EQ(r.per_type[1].type, "PER");
    EXPECT_NEAR(r.per_type[1].scores.f1, 1.0, kEps);
    EXPECT_EQ(r.micro.support, 3);
  }
}

TEST(Seqeval, DefaultVersusStrict) {
  // An I- without B-: an entity for the lenient default chunker, nothing in strict IOB2.
  const Sentences t{{"I-PER", "I-PER", "O"}}, p{{"B-PER", "I-PER", "O"}};
  auto lenient = xm::seqeval_report(t, p);
  EXPECT_DOUBLE_EQ(lenient.micro.f1, 1.0);
  auto strict = xm::seqeval_report(t, p, {xm::SeqevalMode::kStrictIob2});
  EXPECT_DOUBLE_EQ(strict.micro.precision, 0.0);
  EXPECT_DOUBLE_EQ(strict.micro.recall, 0.0);  // no true entity: zero_division
  EXPECT_DOUBLE_EQ(strict.micro.f1, 0.0);
  EXPECT_EQ(strict.micro.support, 0);

  // A type change inside a chunk: two entities by default, one (B-PER + nothing) strictly.
  const Sentences s{{"B-PER", "I-LOC", "O", "B-LOC"}};
  auto d = xm::extract_entities(s, xm::SeqevalMode::kDefault);
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0], (xm::Entity{"PER", 0, 0, 1}));
  EXPECT_EQ(d[1], (xm::Entity{"LOC", 0, 1, 2}));
  EXPECT_EQ(d[2], (xm::Entity{"LOC", 0, 3, 4}));
  auto st = xm::extract_entities(s, xm::SeqevalMode::kStrictIob2);
  ASSERT_EQ(st.size(), 2u);
  EXPECT_EQ(st[0], (xm::Entity{"PER", 0, 0, 1}));
  EXPECT_EQ(st[1], (xm::Entity{"LOC", 0, 3, 4}));
}

TEST(Seqeval, EntitiesNeverCrossSentences) {
  const Sentences s{{"O", "B-PER"}, {"I-PER", "O"}};
  auto d = xm::extract_entities(s, xm::SeqevalMode::kDefault);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0], (xm::Entity{"PER", 0, 1, 2}));
  EXPECT_EQ(d[1], (xm::Entity{"PER", 1, 0, 1}));  // I- after the sentence break starts anew
  EXPECT_EQ(xm::extract_entities(s, xm::SeqevalMode::kStrictIob2).size(), 1u);
}

TEST(Seqeval, DefaultModeReadsIobes) {
  const Sentences s{{"S-PER", "B-LOC", "E-LOC", "O"}};
  auto d = xm::extract_entities(s, xm::SeqevalMode::kDefault);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0], (xm::Entity{"PER", 0, 0, 1}));
  EXPECT_EQ(d[1], (xm::Entity{"LOC", 0, 1, 3}));
  std::string msg = invalid_argument_message([&] { xm::extract_entities(s, xm::SeqevalMode::kStrictIob2); });
  EXPECT_NE(msg.find("S-PER"), std::string::npos) << msg;
}

TEST(Seqeval, NoEntitiesAndZeroDivision) {
  const Sentences t{{"O", "O"}}, p{{"O", "O"}};
  auto r = xm::seqeval_report(t, p);
  EXPECT_TRUE(r.per_type.empty());
  EXPECT_DOUBLE_EQ(r.micro.f1, 0.0);
  EXPECT_DOUBLE_EQ(r.macro.f1, 0.0);  // seqeval: NaN (mean of nothing)
  EXPECT_DOUBLE_EQ(r.weighted.f1, 0.0);
  auto one = xm::seqeval_report(t, p, {xm::SeqevalMode::kDefault, /*zero_division=*/1.0});
  EXPECT_DOUBLE_EQ(one.micro.precision, 1.0);
  EXPECT_DOUBLE_EQ(one.micro.recall, 1.0);
  EXPECT_DOUBLE_EQ(one.micro.f1, 1.0);
  EXPECT_DOUBLE_EQ(one.weighted.f1, 1.0);
  // Predictions only: precision 0, recall zero_division.
  auto r2 = xm::seqeval_report(t, Sentences{{"B-X", "O"}}, {xm::SeqevalMode::kDefault, 1.0});
  EXPECT_DOUBLE_EQ(r2.micro.precision, 0.0);
  EXPECT_DOUBLE_EQ(r2.micro.recall, 1.0);
  EXPECT_DOUBLE_EQ(r2.weighted.precision, 0.0);
  EXPECT_DOUBLE_EQ(r2.weighted.recall, 1.0);
  EXPECT_THROW(xm::seqeval_report(t, p, {xm::SeqevalMode::kDefault, 0.5}), xling::InvalidArgument);
}

TEST(Seqeval, MismatchedShapesThrow) {
  std::string msg = invalid_argument_message(
      [] { xm::seqeval_report(Sentences{{"O", "B-X"}}, Sentences{{"O"}}); });
  EXPECT_NE(msg.find("sentence 0"), std::string::npos) << msg;
  EXPECT_THROW(xm::seqeval_report(Sentences{{"O"}}, Sentences{}), xling::InvalidArgument);
  EXPECT_THROW(xm::seqeval_report(Sentences{{""}}, Sentences{{"O"}}), xling::InvalidArgument);
}

// ---------------------------------------------------------------- cross-lingual

TEST(CrossLingual, Summaries) {
  const std::vector<xm::LanguageScore> s{{"en", 0.9, 100}, {"de", 0.8, 50}, {"sw", 0.5, 50}};
  EXPECT_NEAR(xm::item_weighted_mean(s), 0.775, kEps);
  EXPECT_NEAR(xm::macro_mean(s), 2.2 / 3.0, kEps);
  auto worst = xm::worst_languages(s, 2);
  ASSERT_EQ(worst.size(), 2u);
  EXPECT_EQ(worst[0].language, "sw");
  EXPECT_EQ(worst[1].language, "de");
  EXPECT_EQ(xm::worst_languages(s, 10).size(), 3u);
  EXPECT_NEAR(xm::transfer_gap(s, "en"), 0.25, kEps);
  auto summary = xm::summarize(s, {/*worst_k=*/1, std::string("en")});
  EXPECT_NEAR(summary.macro_mean, 2.2 / 3.0, kEps);
  ASSERT_TRUE(summary.transfer_gap.has_value());
  EXPECT_NEAR(*summary.transfer_gap, 0.25, kEps);
  EXPECT_FALSE(xm::summarize(s).transfer_gap.has_value());
}

TEST(CrossLingual, BadInputThrows) {
  const std::vector<xm::LanguageScore> s{{"en", 0.9, 1}, {"en", 0.8, 1}};
  EXPECT_NE(invalid_argument_message([&] { xm::macro_mean(s); }).find("'en'"), std::string::npos);
  const std::vector<xm::LanguageScore> one{{"en", 0.9, 1}};
  EXPECT_THROW(xm::transfer_gap(one, "en"), xling::InvalidArgument);
  EXPECT_THROW(xm::transfer_gap(one, "fr"), xling::InvalidArgument);
  EXPECT_THROW(xm::macro_mean(std::vector<xm::LanguageScore>{}), xling::InvalidArgument);
  EXPECT_THROW(xm::item_weighted_mean(std::vector<xm::LanguageScore>{{"en", 0.5, 0}}), xling::InvalidArgument);
  EXPECT_THROW(xm::macro_mean(std::vector<xm::LanguageScore>{{"en", kNaN, 1}}), xling::InvalidArgument);
}

TEST(CrossLingual, Consistency) {
  const std::vector<std::vector<int64_t>> p{{1, 2, 3, 4}, {1, 2, 0, 4}, {1, 2, 3, 4}};
  EXPECT_DOUBLE_EQ(xm::consistency(p), 0.75);
  EXPECT_DOUBLE_EQ(xm::consistency(std::vector<std::vector<int64_t>>{{0, 1}}), 1.0);
  EXPECT_THROW(xm::consistency(std::vector<std::vector<int64_t>>{{0, 1}, {0}}), xling::InvalidArgument);
  EXPECT_THROW(xm::consistency(std::vector<std::vector<int64_t>>{}), xling::InvalidArgument);
  EXPECT_THROW(xm::consistency(std::vector<std::vector<int64_t>>{{}, {}}), xling::InvalidArgument);
}
