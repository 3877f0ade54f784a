// Lazily-backed layers (see modules.hpp).
#include "layers/modules.hpp"

#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "xling/errors.hpp"

namespace xling::layers {

torch::Tensor activate(const torch::Tensor& x, io::Activation a) {
  switch (a) {
    case io::Activation::kGelu: return torch::gelu(x);
    case io::Activation::kGeluTanh:
    case io::Activation::kGeluFast: return torch::gelu(x, "tanh");
    case io::Activation::kRelu: return torch::relu(x);
    case io::Activation::kSilu: return torch::silu(x);
    case io::Activation::kQuickGelu: return x * torch::sigmoid(1.702 * x);
    case io::Activation::kTanh: return torch::tanh(x);
  }
  return x;
}

LinearImpl::LinearImpl(int64_t in, int64_t out, bool with_bias) {
  weight = register_parameter("weight", torch::empty({out, in}));
  if (with_bias) bias = register_parameter("bias", torch::empty({out}));
}

namespace {

// torch 2.x marks the FBGEMM int8 linear ops deprecated (they still ship and are what
// torch.ao's dynamic quantization ran on); their one-time warnings would land in users'
// output. If a future torch drops them, quantize_int8 is the place to switch to oneDNN.
struct SilentWarnings : c10::WarningHandler {
  void process(const c10::Warning&) override {}
};
SilentWarnings silent_warnings;

}  // namespace

void LinearImpl::quantize_int8() {
  c10::WarningUtils::WarningHandlerGuard quiet(&silent_warnings);
  torch::NoGradGuard no_grad;
  auto w = weight.to(torch::kCPU, torch::kFloat32).contiguous();
  auto [q, col_offsets, scale, zero_point] = at::fbgemm_linear_quantize_weight(w);
  int8_weight_ = q;
  int8_col_offsets_ = col_offsets;
  int8_scale_ = scale;
  int8_zero_point_ = zero_point;
  int8_packed_ = at::fbgemm_pack_quantized_matrix(q);
  int8_bias_ = bias.defined() ? bias.to(torch::kCPU, torch::kFloat32).contiguous() : torch::zeros({weight.size(0)});
}

torch::Tensor LinearImpl::int8_forward(const torch::Tensor& x) const {
  c10::WarningUtils::WarningHandlerGuard quiet(&silent_warnings);
  return at::fbgemm_linear_int8_weight_fp32_activation(x.to(torch::kFloat32).contiguous(), int8_weight_, int8_packed_,
                                                       int8_col_offsets_, int8_scale_, int8_zero_point_, int8_bias_);
}

// oneDNN's fp32 linear on a prepacked weight: the ops torch.compile's CPU freezing uses,
// registered by libtorch_cpu under mkldnn:: (no C++ API), called through the dispatcher.
void LinearImpl::prepack_f32() {
  static const auto op = c10::Dispatcher::singleton().findSchemaOrThrow("mkldnn::_reorder_linear_weight", "");
  torch::NoGradGuard no_grad;
  torch::jit::Stack stack{weight.to(torch::kCPU, torch::kFloat32).contiguous(), c10::IValue()};
  op.callBoxed(&stack);
  prepacked_ = stack.at(0).toTensor();
}

torch::Tensor LinearImpl::prepacked_forward(const torch::Tensor& x) const {
  static const auto op = c10::Dispatcher::singleton().findSchemaOrThrow("mkldnn::_linear_pointwise", "");
  torch::jit::Stack stack{x.to(torch::kFloat32),
                          prepacked_,
                          bias.defined() ? c10::IValue(bias.to(torch::kFloat32)) : c10::IValue(),
                          c10::IValue(std::string("none")),
                          c10::IValue(c10::List<std::optional<c10::Scalar>>()),
                          c10::IValue(std::string())};
  op.callBoxed(&stack);
  return stack.at(0).toTensor();
}


namespace {

// Calls `f` on every Linear under `root`; returns how many.
template <class F>
int for_each_linear(torch::nn::Module& root, F f) {
  int n = 0;
  for (const auto& m : root.modules(/*include_self=*/true)) {
    if (auto* lin = dynamic_cast<LinearImpl*>(m.get())) {
      f(*lin);
      ++n;
    }
  }
  return n;
}

}  // namespace

int quantize_linear_int8(torch::nn::Module& root) {
  return for_each_linear(root, [](LinearImpl& l) { l.quantize_int8(); });
}

int prepack_linear_f32(torch::nn::Module& root) {
  return for_each_linear(root, [](LinearImpl& l) { l.prepack_f32(); });
}

torch::Tensor LinearImpl::forward(const torch::Tensor& x) {
  if (use_int8()) return int8_forward(x);
  if (use_prepacked()) return prepacked_forward(x);
  auto y = at::linear(x, weight, bias);
  // y is a fresh tensor and linear's backward does not need it: the in-place add is safe.
  if (lora_A.defined()) y.add_(at::linear(at::linear(lora_input(x), lora_A), lora_B), lora_scaling);
  return y;
}

torch::Tensor LinearImpl::lora_input(const torch::Tensor& x) const {
  return lora_dropout > 0 && is_training() ? torch::dropout(x, lora_dropout, /*train=*/true) : x;
}

torch::Tensor LinearImpl::forward2d(const torch::Tensor& x) const {
  if (use_int8()) return int8_forward(x);
  if (use_prepacked()) return prepacked_forward(x);
  auto y = bias.defined() ? at::addmm(bias, x, weight.t()) : at::mm(x, weight.t());
  if (lora_A.defined()) y.addmm_(at::mm(lora_input(x), lora_A.t()), lora_B.t(), /*beta=*/1, /*alpha=*/lora_scaling);
  return y;
}

void LinearImpl::set_lora(const torch::Tensor& a, const torch::Tensor& b, double scaling) {
  if (a.dim() != 2 || b.dim() != 2 || a.size(1) != weight.size(1) || b.size(0) != weight.size(0) ||
      a.size(0) != b.size(1)) {
    throw InvalidArgument(fmt::format("LoRA A [{}] and B [{}] do not fit a weight of shape [{}]", fmt::join(a.sizes(), ", "),
                                      fmt::join(b.sizes(), ", "), fmt::join(weight.sizes(), ", ")));
  }
  drop_lora();
  auto child_a = register_module("lora_A", std::make_shared<torch::nn::Module>());
  auto child_b = register_module("lora_B", std::make_shared<torch::nn::Module>());
  lora_A = child_a->register_parameter("weight", a);
  lora_B = child_b->register_parameter("weight", b);
  lora_scaling = scaling;
}

void LinearImpl::drop_lora() {
  if (!lora_A.defined()) return;
  unregister_module("lora_A");
  unregister_module("lora_B");
  lora_A = lora_B = torch::Tensor();
  lora_scaling = 0;
}

void LinearImpl::merge_lora() {
  if (!lora_A.defined()) return;
  torch::NoGradGuard no_grad;
  // The update in fp32 at least, so bf16/f16 weights get one rounding, not three.
  const auto acc = c10::promoteTypes(weight.scalar_type(), torch::kFloat32);
  auto delta = at::mm(lora_B.to(acc), lora_A.to(acc)).mul_(lora_scaling);
  weight.set_data(weight.to(acc).add(delta).to(weight.scalar_type()));
  drop_lora();
}

LayerNormImpl::LayerNormImpl(int64_t d, double e) : eps(e) {
  weight = register_parameter("weight", torch::ones({d}));
  bias = register_parameter("bias", torch::zeros({d}));
}

EmbeddingImpl::EmbeddingImpl(int64_t num, int64_t d, int64_t pad) : padding_idx(pad) {
  weight = register_parameter("weight", torch::empty({num, d}));
}

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
      // nn.Embedding(padding_idx=p): HF zeroes that row after drawing the rest.
      if (auto* emb = dynamic_cast<EmbeddingImpl*>(&m); emb && p.key() == "weight" && emb->padding_idx >= 0) {
        t[emb->padding_idx].zero_();
      }
    }
  }
}

}  // namespace xling::layers
