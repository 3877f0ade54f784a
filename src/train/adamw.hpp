// AdamW exactly as torch.optim.AdamW (single-tensor path, amsgrad off, maximize off): decoupled
// weight decay p *= 1 - lr * wd, then the bias-corrected Adam update. Parameters are in named
// groups so that HF's Trainer default (no decay on biases and LayerNorm weights) and plain
// torch (decay on everything) are both one flag. The state (step, exp_avg, exp_avg_sq per
// parameter) is exported under parameter names for checkpoints and resumption.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace xling::train {

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
};

class AdamW {
 public:
  // `params`: (name, tensor) pairs that require grad; `decay[i]` says whether parameter i
  // gets weight decay.
  AdamW(std::vector<std::pair<std::string, torch::Tensor>> params, std::vector<bool> decay, AdamWOptions options);

  // One update with learning rate `lr` for every parameter that has a gradient.
  void step(double lr);
  // Per-parameter multipliers of the learning rate (layer-wise decay); default all 1. The
  // decoupled weight decay uses the scaled rate too, as a torch param group's lr would.
  void set_lr_scales(std::vector<double> scales);
  void zero_grad();

  // {"<name>.exp_avg", "<name>.exp_avg_sq"} tensors and the step count, for checkpoints.
  std::map<std::string, torch::Tensor> state() const;
  int64_t steps() const { return step_; }
  // Restores a state written by state() (names must match; shapes are checked).
  void load_state(const std::map<std::string, torch::Tensor>& state, int64_t steps);

  const std::vector<std::pair<std::string, torch::Tensor>>& params() const { return params_; }

 private:
  std::vector<std::pair<std::string, torch::Tensor>> params_;
  std::vector<bool> decay_;
  std::vector<torch::Tensor> exp_avg_, exp_avg_sq_;
  std::vector<double> lr_scale_;
  AdamWOptions opt_;
  int64_t step_ = 0;
};

// HF Trainer's rule: no weight decay for biases and LayerNorm weights (names ending in
// "bias" or containing "LayerNorm"/"layer_norm"/"norm."); decay_all = plain torch AdamW.
bool decays(const std::string& name, bool decay_all);

// torch.nn.utils.clip_grad_norm_: returns the total 2-norm before clipping and scales the
// gradients by max_norm / (norm + 1e-6) when that is below 1. max_norm <= 0: no clipping.
double clip_grad_norm(const std::vector<std::pair<std::string, torch::Tensor>>& params, double max_norm);

}  // namespace xling::train
