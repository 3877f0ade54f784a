// Bitext mining metrics on sentence embeddings: MTEB's BitextMiningEvaluator (cosine nearest
// neighbour of every source sentence among all target sentences; accuracy and
// support-weighted precision / recall / F1 over the gold target indices, sklearn semantics)
// and LASER's xSIM error rate (margin-based nearest neighbour: ratio margin with k = 4 by
// default, or the distance margin, or plain cosine).
//
// Similarities are computed in double precision from float embeddings; both references use
// float32 (torch / faiss), so a near-tie between two candidates can resolve differently.
// Exact ties go to the lower target index. An all-zero embedding has cosine 0 with everything
// (faiss' normalize_L2 and torch's normalize leave it zero).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace xling::metrics {

// A row-major (rows x dim) view of float embeddings; the caller keeps the data alive.
class EmbeddingMatrix {
 public:
  // Throws InvalidArgument unless values.size() == rows * dim, rows >= 0, dim > 0 and every
  // value is finite.
  EmbeddingMatrix(std::span<const float> values, int64_t rows, int64_t dim);

  int64_t rows() const { return rows_; }
  int64_t dim() const { return dim_; }
  std::span<const float> row(int64_t i) const {
    return values_.subspan(static_cast<std::size_t>(i * dim_), static_cast<std::size_t>(dim_));
  }

 private:
  std::span<const float> values_;
  int64_t rows_;
  int64_t dim_;
};

struct BitextMiningScores {
  double accuracy = 0.0;
  double precision = 0.0;  // sklearn average="weighted", zero_division=0
  double recall = 0.0;
  double f1 = 0.0;
  std::vector<int64_t> predictions;  // nearest target row of each source row
};

// `gold[i]` is the target row that source row i translates; empty means row i <-> row i
// (then both sides need the same number of rows).
BitextMiningScores bitext_mining(const EmbeddingMatrix& source, const EmbeddingMatrix& target,
                                 std::span<const int64_t> gold = {});

enum class XsimMargin {
  kRatio,     // cos(x, y) / ((avg_k cos(x, .) + avg_k cos(., y)) / 2)   (LASER default)
  kDistance,  // cos(x, y) - (avg_k cos(x, .) + avg_k cos(., y)) / 2
  kAbsolute,  // cos(x, y): plain cosine nearest neighbour
};

struct XsimOptions {
  XsimMargin margin = XsimMargin::kRatio;
  int64_t k = 4;  // neighbourhood size; capped at the number of rows
  // Optional, one per row: a prediction then counts as an error only when the predicted
  // row's text differs from the gold row's text (LASER's eval_text), so duplicates are fine.
  std::vector<std::string> texts;
};

struct XsimResult {
  int64_t errors = 0;
  int64_t total = 0;
  double error_rate = 0.0;  // errors / total (LASER prints it in percent)
  std::vector<int64_t> predictions;
};

// Source and target must have the same shape: row i of one translates row i of the other.
XsimResult xsim(const EmbeddingMatrix& source, const EmbeddingMatrix& target, const XsimOptions& options = {});

}  // namespace xling::metrics
