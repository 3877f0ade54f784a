// Classification metrics with scikit-learn 1.9 semantics: accuracy, precision / recall / F1
// (binary, micro, macro, weighted; multi-label adds samples), Matthews correlation and
// Cohen's kappa. The label set is the sorted union of the labels found in y_true and y_pred,
// as sklearn's unique_labels gives it; a division by zero yields `zero_division` (0 by
// default, like sklearn's "warn"). Inputs of different lengths or empty inputs throw
// xling::InvalidArgument.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <vector>

namespace xling::metrics {

// sklearn's `average` argument. kBinary reports the class `pos_label` only and needs at
// most two distinct labels; kSamples exists for multi-label input only.
enum class Average { kBinary, kMicro, kMacro, kWeighted, kSamples };

struct PrfOptions {
  // Value of a precision / recall / F1 whose denominator is zero: 0.0, 1.0 or NaN
  // (sklearn's zero_division; "warn" behaves as 0.0). NaN entries are left out of the
  // macro / weighted means, as sklearn's _nanaverage does.
  double zero_division = 0.0;
  int64_t pos_label = 1;  // kBinary only
};

struct PrecisionRecallF1 {
  double precision = 0.0;
  double recall = 0.0;
  double f1 = 0.0;
};

// One row of sklearn's classification_report (average=None).
struct ClassScores {
  int64_t label = 0;
  double precision = 0.0;
  double recall = 0.0;
  double f1 = 0.0;
  int64_t support = 0;  // occurrences in y_true
};

// Rows are true labels, columns predicted labels, both in the order of `labels`.
struct ConfusionMatrix {
  std::vector<int64_t> labels;  // sorted union of y_true and y_pred
  std::vector<int64_t> counts;  // labels.size() x labels.size(), row-major
  int64_t at(std::size_t true_index, std::size_t pred_index) const {
    return counts[true_index * labels.size() + pred_index];
  }
};

// Single-label (binary or multiclass) input: one label per sample.
ConfusionMatrix confusion_matrix(std::span<const int64_t> y_true, std::span<const int64_t> y_pred);
double accuracy(std::span<const int64_t> y_true, std::span<const int64_t> y_pred);
PrecisionRecallF1 precision_recall_f1(std::span<const int64_t> y_true, std::span<const int64_t> y_pred,
                                      Average average, const PrfOptions& options = {});
double precision_score(std::span<const int64_t> y_true, std::span<const int64_t> y_pred, Average average,
                       const PrfOptions& options = {});
double recall_score(std::span<const int64_t> y_true, std::span<const int64_t> y_pred, Average average,
                    const PrfOptions& options = {});
double f1_score(std::span<const int64_t> y_true, std::span<const int64_t> y_pred, Average average,
                const PrfOptions& options = {});
std::vector<ClassScores> per_class_scores(std::span<const int64_t> y_true, std::span<const int64_t> y_pred,
                                          double zero_division = 0.0);

// sklearn matthews_corrcoef (multiclass R_K statistic); 0.0 when undefined (one class only
// in y_true or in y_pred), as sklearn returns.
double matthews_corrcoef(std::span<const int64_t> y_true, std::span<const int64_t> y_pred);

enum class KappaWeights { kNone, kLinear, kQuadratic };

// sklearn cohen_kappa_score. It is undefined when the expected disagreement is 0 (e.g. both
// annotators use one and the same label); sklearn 1.9 then returns replace_undefined_by,
// NaN by default. Linear / quadratic weights use the distance between label indices in the
// sorted label set, as sklearn does.
double cohen_kappa(std::span<const int64_t> y1, std::span<const int64_t> y2, KappaWeights weights = KappaWeights::kNone,
                   double replace_undefined_by = std::numeric_limits<double>::quiet_NaN());

// Multi-label input: one set of labels per sample (order and duplicates inside a set do not
// matter). The label set is the union over both sides, as a MultiLabelBinarizer fitted on
// y_true and y_pred gives it.
using LabelSet = std::vector<int64_t>;

// Share of samples whose predicted set equals the true set (sklearn accuracy_score).
double subset_accuracy(std::span<const LabelSet> y_true, std::span<const LabelSet> y_pred);
// Share of wrong (sample, label) cells; 0.0 when no label occurs at all.
double hamming_loss(std::span<const LabelSet> y_true, std::span<const LabelSet> y_pred);
// kMicro, kMacro, kWeighted or kSamples (kBinary throws).
PrecisionRecallF1 multilabel_precision_recall_f1(std::span<const LabelSet> y_true, std::span<const LabelSet> y_pred,
                                                 Average average, const PrfOptions& options = {});

const char* average_name(Average average);

}  // namespace xling::metrics
