// Bottleneck adapters (Houlsby et al. 2019; Pfeiffer et al. 2021) as the `adapters` library
// (AdapterHub) places them in a post-norm transformer sub-layer: given the sub-layer's output
// h (after its output dense and dropout), its input r and its LayerNorm LN,
//   houlsby:  LN(h + up(act(down(h))) + r)
//   pfeiffer: LN(h + up(act(down(LN(h + r)))) + r)   (the adapter reads the normed sum; the same LN again)
// i.e. AdapterHub's DoubleSeqBnConfig / SeqBnConfig with residual_before_ln=True,
// original_ln_after=True, scaling 1, no adapter LayerNorms, dropout 0.
#pragma once

#include <torch/torch.h>

#include "io/config.hpp"
#include "layers/modules.hpp"

namespace xling::layers {

struct BottleneckAdapterImpl : torch::nn::Module {
  // down: Linear(d, bottleneck), up: Linear(bottleneck, d); parameters left uninitialised (torch::empty).
  BottleneckAdapterImpl(int64_t d, int64_t bottleneck, io::Activation act, bool norm_before);
  // h, residual: (N, D) -> (N, D), the sub-layer's normed output (see the file comment).
  torch::Tensor forward(const torch::Tensor& h, const torch::Tensor& residual, LayerNormImpl& norm);

  Linear down{nullptr}, up{nullptr};
  io::Activation act;
  bool norm_before;  // pfeiffer: the adapter's input is LN(h + r)
};
TORCH_MODULE(BottleneckAdapter);

}  // namespace xling::layers
