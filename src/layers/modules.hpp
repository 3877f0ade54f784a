// Linear, LayerNorm and Embedding whose parameters start unallocated-in-practice: they are
// torch::empty (pages never touched) instead of randomly initialised, because loading
// replaces them with mmapped checkpoint tensors right away. torch::nn's versions fill every
// parameter at construction, which for a 250k-vocabulary model costs seconds and a second
// copy of the model in RSS. Parameters not found in a checkpoint (a new head) are filled by
// init_hf_style(), which follows HF's _init_weights for these layers.
#pragma once

#include <torch/torch.h>

namespace xling::layers {

struct LinearImpl : torch::nn::Module {
  LinearImpl(int64_t in, int64_t out, bool bias = true);
  torch::Tensor forward(const torch::Tensor& x) { return at::linear(x, weight, bias); }  // (..., in) -> (..., out)
  torch::Tensor weight, bias;  // (out, in), (out) or undefined
};
TORCH_MODULE(Linear);

struct LayerNormImpl : torch::nn::Module {
  LayerNormImpl(int64_t d, double eps);
  torch::Tensor forward(const torch::Tensor& x) { return at::layer_norm(x, {weight.size(0)}, weight, bias, eps); }
  torch::Tensor weight, bias;  // (d), (d)
  double eps;
};
TORCH_MODULE(LayerNorm);

struct EmbeddingImpl : torch::nn::Module {
  EmbeddingImpl(int64_t num, int64_t d);
  torch::Tensor forward(const torch::Tensor& ids) { return at::embedding(weight, ids); }  // (...) int64 -> (..., d)
  torch::Tensor weight;  // (num, d)
};
TORCH_MODULE(Embedding);

// HF's _init_weights for the parameters named in `names` (module-relative, dotted): Linear and
// Embedding weights ~ N(0, std), biases 0, LayerNorm weight 1 and bias 0. Others are left alone.
void init_hf_style(torch::nn::Module& root, const std::vector<std::string>& names, double std, uint64_t seed);

}  // namespace xling::layers
