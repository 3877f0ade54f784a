// Loss functions (see losses.hpp).
#include "train/losses.hpp"

namespace xling::train {

torch::Tensor token_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels, double label_smoothing) {
  namespace F = torch::nn::functional;
  return F::cross_entropy(logits.reshape({-1, logits.size(-1)}).to(torch::kFloat32), labels.reshape({-1}).to(torch::kLong),
                          F::CrossEntropyFuncOptions().ignore_index(-100).label_smoothing(label_smoothing));
}

SummedNll summed_token_nll(const torch::Tensor& logits, const torch::Tensor& labels) {
  namespace F = torch::nn::functional;
  auto keep = labels.ne(-100);
  SummedNll s;
  s.tokens = keep.sum().item<double>();
  if (s.tokens == 0) return s;
  s.nll = F::cross_entropy(logits.to(torch::kFloat32).index({keep}), labels.index({keep}),
                           F::CrossEntropyFuncOptions().reduction(torch::kSum))
              .item<double>();
  return s;
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

torch::Tensor cosent_loss(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& labels, double scale) {
  namespace F = torch::nn::functional;
  auto s = F::cosine_similarity(a, b, F::CosineSimilarityFuncOptions().dim(1)) * scale;  // (B)
  auto diff = s.unsqueeze(1) - s.unsqueeze(0);                                           // (B, B): s_i - s_j
  auto lab = labels.to(s.scalar_type());
  auto lower = lab.unsqueeze(1) < lab.unsqueeze(0);  // label_i < label_j
  diff = diff - (1 - lower.to(diff.scalar_type())) * 1e12;
  return torch::logsumexp(torch::cat({torch::zeros({1}, diff.options()), diff.reshape({-1})}), 0);
}

torch::Tensor cosine_similarity_loss(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& labels) {
  namespace F = torch::nn::functional;
  auto cos = F::cosine_similarity(a, b, F::CosineSimilarityFuncOptions().dim(1));
  return F::mse_loss(cos, labels.to(cos.scalar_type()));
}

}  // namespace xling::train
