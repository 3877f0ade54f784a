// Loss functions shared by the trainers, each as its reference library defines it.
#pragma once

#include <torch/torch.h>

namespace xling::train {

// Token-level cross-entropy over logits (..., V) and labels (...) with -100 ignored, averaged over
// the labelled tokens; label_smoothing as torch.nn.functional.cross_entropy (and HF's
// LabelSmoother, which is the same quantity): (1 - e) * nll + e * mean_v(-log p_v).
torch::Tensor token_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels, double label_smoothing = 0.0);

// For evaluation: the summed negative log-likelihood (float32 logits) and the number of
// labelled tokens of logits (..., V) against labels (...) with -100 ignored.
struct SummedNll {
  double nll = 0, tokens = 0;
};
SummedNll summed_token_nll(const torch::Tensor& logits, const torch::Tensor& labels);

// sentence-transformers' MultipleNegativesRankingLoss: scores = scale * cos(a_i, b_j) (B, B),
// cross-entropy with the diagonal as targets (in-batch negatives). `symmetric` adds the b->a
// direction and averages both (MultipleNegativesSymmetricRankingLoss); `margin` is subtracted
// from the positive pair's cosine (LaBSE's additive margin). Extra hard negatives, when given
// as `negatives` (B, D), join the candidates of the a->b direction.
torch::Tensor multiple_negatives_ranking_loss(const torch::Tensor& a, const torch::Tensor& b, double scale = 20.0,
                                              bool symmetric = false, double margin = 0.0,
                                              const torch::Tensor& negatives = {});

// sentence-transformers' CoSENTLoss: s = scale * cos(a_i, b_i) (B); for every pair (i, j) with
// label_i < label_j the term s_i - s_j; loss = log(1 + sum exp(terms)).
torch::Tensor cosent_loss(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& labels, double scale = 20.0);

// sentence-transformers' CosineSimilarityLoss: mean((cos(a_i, b_i) - label_i)^2).
torch::Tensor cosine_similarity_loss(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& labels);

}  // namespace xling::train
