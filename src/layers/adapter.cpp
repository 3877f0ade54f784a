// Bottleneck adapter block (see adapter.hpp).
#include "layers/adapter.hpp"

namespace xling::layers {

BottleneckAdapterImpl::BottleneckAdapterImpl(int64_t d, int64_t bottleneck, io::Activation a, bool before)
    : act(a), norm_before(before) {
  down = register_module("down", Linear(d, bottleneck));
  up = register_module("up", Linear(bottleneck, d));
}

torch::Tensor BottleneckAdapterImpl::forward(const torch::Tensor& h, const torch::Tensor& residual, LayerNormImpl& norm) {
  const auto x = norm_before ? norm.forward(h + residual) : h;
  auto y = up->forward2d(activate(down->forward2d(x), act));  // (N, bottleneck) -> (N, D)
  return norm.forward(y.add_(h).add_(residual));
}

}  // namespace xling::layers
