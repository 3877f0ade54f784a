// AdamW and gradient clipping (see adamw.hpp).
#include "train/adamw.hpp"

#include <cmath>

#include <fmt/format.h>

#include "xling/errors.hpp"

namespace xling::train {

bool decays(const std::string& name, bool decay_all) {
  if (decay_all) return true;
  if (name.ends_with("bias")) return false;
  for (const char* n : {"LayerNorm", "layer_norm", "layernorm", "norm."}) {
    if (name.find(n) != std::string::npos) return false;
  }
  return true;
}

AdamW::AdamW(std::vector<std::pair<std::string, torch::Tensor>> params, std::vector<bool> decay, AdamWOptions options)
    : params_(std::move(params)), decay_(std::move(decay)), opt_(options) {
  if (decay_.size() != params_.size()) throw InvalidArgument("AdamW: one decay flag per parameter expected");
  torch::NoGradGuard no_grad;
  for (const auto& [name, p] : params_) {
    exp_avg_.push_back(torch::zeros_like(p, torch::MemoryFormat::Preserve));
    exp_avg_sq_.push_back(torch::zeros_like(p, torch::MemoryFormat::Preserve));
  }
}

void AdamW::set_lr_scales(std::vector<double> scales) {
  if (scales.size() != params_.size()) throw InvalidArgument("AdamW: one learning-rate scale per parameter expected");
  lr_scale_ = std::move(scales);
}

void AdamW::step(double base_lr) {
  torch::NoGradGuard no_grad;
  ++step_;
  const double bc1 = 1.0 - std::pow(opt_.beta1, static_cast<double>(step_));
  const double bc2 = 1.0 - std::pow(opt_.beta2, static_cast<double>(step_));
  const double bc2_sqrt = std::sqrt(bc2);
  for (std::size_t i = 0; i < params_.size(); ++i) {
    auto& p = params_[i].second;
    const auto& g = p.grad();
    if (!g.defined()) continue;
    const double lr = lr_scale_.empty() ? base_lr : base_lr * lr_scale_[i];
    const double step_size = lr / bc1;
    if (decay_[i] && opt_.weight_decay != 0.0) p.mul_(1.0 - lr * opt_.weight_decay);
    exp_avg_[i].lerp_(g, 1.0 - opt_.beta1);
    exp_avg_sq_[i].mul_(opt_.beta2).addcmul_(g, g, 1.0 - opt_.beta2);
    auto denom = (exp_avg_sq_[i].sqrt() / bc2_sqrt).add_(opt_.eps);
    p.addcdiv_(exp_avg_[i], denom, -step_size);
  }
}

void AdamW::zero_grad() {
  for (auto& [name, p] : params_) {
    if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
  }
}

std::map<std::string, torch::Tensor> AdamW::state() const {
  std::map<std::string, torch::Tensor> out;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    out[params_[i].first + ".exp_avg"] = exp_avg_[i];
    out[params_[i].first + ".exp_avg_sq"] = exp_avg_sq_[i];
  }
  return out;
}

void AdamW::load_state(const std::map<std::string, torch::Tensor>& state, int64_t steps) {
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const std::pair<const char*, torch::Tensor*> slots[] = {{".exp_avg", &exp_avg_[i]}, {".exp_avg_sq", &exp_avg_sq_[i]}};
    for (const auto& [suffix, dst] : slots) {
      auto it = state.find(params_[i].first + suffix);
      if (it == state.end()) throw InvalidArgument(fmt::format("optimizer state has no '{}{}'", params_[i].first, suffix));
      if (it->second.sizes() != dst->sizes()) {
        throw InvalidArgument(fmt::format("optimizer state '{}{}' has the wrong shape", params_[i].first, suffix));
      }
      dst->copy_(it->second);
    }
  }
  step_ = steps;
}

double clip_grad_norm(const std::vector<std::pair<std::string, torch::Tensor>>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> norms;
  for (const auto& [name, p] : params) {
    if (p.grad().defined()) norms.push_back(p.grad().norm(2).to(torch::kFloat32));
  }
  if (norms.empty()) return 0.0;
  auto total = torch::stack(norms).norm(2);
  const double value = total.item<double>();
  if (max_norm > 0) {
    auto coef = (max_norm / (total + 1e-6)).clamp_max(1.0);
    for (const auto& [name, p] : params) {
      if (p.grad().defined()) p.grad().mul_(coef);
    }
  }
  return value;
}

}  // namespace xling::train
