// Lazily-backed layers (see modules.hpp).
#include "layers/modules.hpp"

#include <set>

namespace xling::layers {

LinearImpl::LinearImpl(int64_t in, int64_t out, bool with_bias) {
  weight = register_parameter("weight", torch::empty({out, in}));
  if (with_bias) bias = register_parameter("bias", torch::empty({out}));
}

LayerNormImpl::LayerNormImpl(int64_t d, double e) : eps(e) {
  weight = register_parameter("weight", torch::ones({d}));
  bias = register_parameter("bias", torch::zeros({d}));
}

EmbeddingImpl::EmbeddingImpl(int64_t num, int64_t d) { weight = register_parameter("weight", torch::empty({num, d})); }

void init_hf_style(torch::nn::Module& root, const std::vector<std::string>& names, double std, uint64_t seed) {
  std::set<std::string> wanted(names.begin(), names.end());
  torch::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  for (const auto& item : root.named_modules()) {
    const std::string prefix = item.key().empty() ? "" : item.key() + ".";
    auto& m = *item.value();
    for (auto& p : m.named_parameters(/*recurse=*/false)) {
      if (!wanted.count(prefix + p.key())) continue;
      auto& t = p.value();
      const bool is_norm = dynamic_cast<LayerNormImpl*>(&m) != nullptr;
      if (p.key() == "bias") t.zero_();
      else if (is_norm) t.fill_(1.0);
      else if (t.is_floating_point()) t.normal_(0.0, std, gen);
    }
  }
}

}  // namespace xling::layers
