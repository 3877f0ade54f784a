// Loss functions (see losses.hpp).
#include "train/losses.hpp"

namespace xling::train {

torch::Tensor token_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels, double label_smoothing) {
  namespace F = torch::nn::functional;
  return F::cross_entropy(logits.reshape({-1, logits.size(-1)}).to(torch::kFloat32), labels.reshape({-1}).to(torch::kLong),
                          F::CrossEntropyFuncOptions().ignore_index(-100).label_smoothing(label_smoothing));
}

torch::Tensor multiple_negatives_ranking_loss(const torch::Tensor& a, const torch::Tensor& b, double scale, bool symmetric,
                                              double margin, const torch::Tensor& negatives) {
  namespace F = torch::nn::functional;
  auto na = F::normalize(a, F::NormalizeFuncOptions().p(2).dim(1));
  auto nb = F::normalize(b, F::NormalizeFuncOptions().p(2).dim(1));
  auto candidates = negatives.defined() ? torch::cat({nb, F::normalize(negatives, F::NormalizeFuncOptions().p(2).dim(1))}) : nb;
  auto cos = torch::matmul(na, candidates.t());  // (B, B [+ N])
  const auto n = a.size(0);
  auto target = torch::arange(n, torch::TensorOptions().dtype(torch::kLong).device(a.device()));
  if (margin != 0.0) cos = cos - margin * F::one_hot(target, cos.size(1)).to(cos.scalar_type());
  auto loss = F::cross_entropy(cos * scale, target);
  if (!symmetric) return loss;
  auto back = torch::matmul(nb, na.t());
  if (margin != 0.0) back = back - margin * torch::eye(n, back.options());
  return (loss + F::cross_entropy(back * scale, target)) / 2.0;
}

}  // namespace xling::train
