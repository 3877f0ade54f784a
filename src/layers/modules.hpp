// Linear, LayerNorm and Embedding whose parameters start unallocated-in-practice: they are
// torch::empty (pages never touched) instead of randomly initialised, because loading
// replaces them with mmapped checkpoint tensors right away. torch::nn's versions fill every
// parameter at construction, which for a 250k-vocabulary model costs seconds and a second
// copy of the model in RSS. Parameters not found in a checkpoint (a new head) are filled by
// init_hf_style(), which follows HF's _init_weights for these layers.
#pragma once

#include <torch/torch.h>

#include "io/config.hpp"

namespace xling::layers {

// x: (...) -> (...), the activation HF names by `hidden_act`.
torch::Tensor activate(const torch::Tensor& x, io::Activation a);

// Optionally with a LoRA update (PEFT's): y = x W^T + b + scaling * (x A^T) B^T. A and B are
// parameters of children named "lora_A" and "lora_B", so named_parameters() gives PEFT's
// saved names (`<module>.lora_A.weight`) and a trainer can select them by name.
struct LinearImpl : torch::nn::Module {
  LinearImpl(int64_t in, int64_t out, bool bias = true);
  torch::Tensor forward(const torch::Tensor& x);          // (..., in) -> (..., out)
  torch::Tensor forward2d(const torch::Tensor& x) const;  // (N, in) -> (N, out), one addmm (+ LoRA)

  // a: (r, in), b: (out, r), in the weight's dtype and device. Replaces any LoRA already set.
  void set_lora(const torch::Tensor& a, const torch::Tensor& b, double scaling);
  bool has_lora() const { return lora_A.defined(); }
  // weight <- weight + scaling * B A as a new tensor (the old one, usually the checkpoint's
  // mapping, stays as loaded for anything else holding it), then drops A and B.
  void merge_lora();
  void drop_lora();

  // Opt-in int8 inference (FBGEMM dynamic quantization, as torch.ao's quantize_dynamic with a
  // per-tensor weight scale): the weight is quantized and packed once; activations are
  // quantized per call; the result is fp32. Only in eval mode without LoRA; the fp32 weight
  // stays for state_dict and training.
  void quantize_int8();
  bool is_int8() const { return int8_packed_.defined(); }
  // Opt-in fp32 inference with the weight reordered once for oneDNN's GEMM (CPU): MKL's
  // sgemm re-packs the weight on every call, which dominates small-batch decoding. Same
  // eval-only/no-LoRA rule as int8; rounding differs from at::linear (~1e-6 relative).
  void prepack_f32();
  bool is_prepacked() const { return prepacked_.defined(); }

  torch::Tensor weight, bias;  // (out, in), (out) or undefined
  torch::Tensor lora_A, lora_B;  // (r, in), (out, r), or undefined
  double lora_scaling = 0;
  double lora_dropout = 0;  // dropout on the LoRA branch's input in training mode (PEFT's lora_dropout)

 private:
  torch::Tensor lora_input(const torch::Tensor& x) const;
  bool use_int8() const { return int8_packed_.defined() && !is_training() && !lora_A.defined(); }
  torch::Tensor int8_forward(const torch::Tensor& x) const;
  bool use_prepacked() const { return prepacked_.defined() && !is_training() && !lora_A.defined(); }
  torch::Tensor prepacked_forward(const torch::Tensor& x) const;
  torch::Tensor prepacked_;  // oneDNN layout of `weight` (f32)
  torch::Tensor int8_weight_, int8_packed_, int8_col_offsets_, int8_bias_;
  double int8_scale_ = 1.0;
  int64_t int8_zero_point_ = 0;
};
TORCH_MODULE(Linear);

// Quantizes every Linear under `root` to int8 (LinearImpl::quantize_int8); returns how many.
int quantize_linear_int8(torch::nn::Module& root);
// Prepacks every Linear under `root` for oneDNN (LinearImpl::prepack_f32); returns how many.
int prepack_linear_f32(torch::nn::Module& root);

struct LayerNormImpl : torch::nn::Module {
  LayerNormImpl(int64_t d, double eps);
  torch::Tensor forward(const torch::Tensor& x) { return at::layer_norm(x, {weight.size(0)}, weight, bias, eps); }
  torch::Tensor weight, bias;  // (d), (d)
  double eps;
};
TORCH_MODULE(LayerNorm);

struct EmbeddingImpl : torch::nn::Module {
  // padding_idx >= 0: that row gets no gradient (torch.nn.Embedding(padding_idx=...)).
  EmbeddingImpl(int64_t num, int64_t d, int64_t padding_idx = -1);
  torch::Tensor forward(const torch::Tensor& ids) { return at::embedding(weight, ids, padding_idx); }  // (...) int64 -> (..., d)
  torch::Tensor weight;  // (num, d)
  int64_t padding_idx;
};
TORCH_MODULE(Embedding);

// HF's _init_weights for the parameters named in `names` (module-relative, dotted): Linear and
// Embedding weights ~ N(0, std), biases 0, LayerNorm weight 1 and bias 0. Others are left alone.
void init_hf_style(torch::nn::Module& root, const std::vector<std::string>& names, double std, uint64_t seed);

}  // namespace xling::layers
