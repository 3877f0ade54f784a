// Shared decoder-only mechanics (see causal_lm.hpp).
#include "models/causal_lm.hpp"

#include <limits>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "xling/errors.hpp"

namespace xling::models {

void CausalState::select_rows(const torch::Tensor& rows) {
  for (auto& c : cache) c.select_rows(rows);
  if (mask.defined()) mask = mask.index_select(0, rows);
}

CausalState CausalState::with_layers(std::size_t layers) {
  CausalState s;
  s.cache.resize(layers);
  return s;
}

const torch::Tensor& CausalState::extend_mask(const torch::Tensor& new_mask, const torch::Device& device) {
  auto m = new_mask.to(device, torch::kLong);
  mask = mask.defined() ? torch::cat({mask, m}, 1) : m;
  return mask;
}

std::map<std::string, torch::Tensor> causal_lm_outputs(const std::vector<torch::Tensor>& hidden, const torch::Tensor& logits,
                                                       const torch::Tensor& labels) {
  std::map<std::string, torch::Tensor> out;
  for (std::size_t i = 0; i < hidden.size(); ++i) out[fmt::format("hidden_states.{}", i)] = hidden[i];
  out["last_hidden_state"] = hidden.back();
  out["logits"] = logits;
  if (labels.defined()) out["loss"] = causal_lm_loss(logits, labels);
  return out;
}

int quantize_causal_lm(torch::nn::Module& root, bool tied_head, const torch::Tensor& embeddings, layers::Linear& int8_head,
                       bool prepack) {
  int n = prepack ? layers::prepack_linear_f32(root) : layers::quantize_linear_int8(root);
  if (tied_head) {
    int8_head = layers::Linear(embeddings.size(1), embeddings.size(0), false);
    int8_head->weight = embeddings;
    int8_head->eval();
    if (prepack) {
      int8_head->prepack_f32();
    } else {
      int8_head->quantize_int8();
    }
    ++n;
  }
  return n;
}

torch::Tensor positions_from_mask(const torch::Tensor& mask) {
  auto pos = mask.to(torch::kLong).cumsum(-1) - 1;
  return pos.masked_fill(mask.eq(0), 1);
}

torch::Tensor causal_attention_bias(const torch::Tensor& mask, int64_t t, int64_t window, torch::ScalarType dtype) {
  const int64_t total = mask.size(1), past = total - t;
  auto opts = torch::TensorOptions().dtype(torch::kLong).device(mask.device());
  auto q = torch::arange(past, total, opts).view({t, 1});
  auto k = torch::arange(total, opts).view({1, total});
  auto allowed = k.le(q);
  if (window > 0) allowed = allowed.logical_and(k.gt(q - window));
  allowed = allowed.unsqueeze(0).logical_and(mask.to(torch::kBool).unsqueeze(1));  // (N, T, P + T)
  const double lowest = dtype == torch::kFloat64   ? std::numeric_limits<double>::lowest()
                        : dtype == torch::kBFloat16 ? -3.3895313892515355e38
                        : dtype == torch::kFloat16  ? -65504.0
                                                    : static_cast<double>(std::numeric_limits<float>::lowest());
  return torch::zeros(allowed.sizes(), torch::TensorOptions().dtype(dtype).device(mask.device()))
      .masked_fill(allowed.logical_not(), lowest)
      .unsqueeze(1);
}

CausalInputs causal_inputs(const std::map<std::string, torch::Tensor>& inputs) {
  CausalInputs in;
  auto get = [&](const char* name) {
    auto it = inputs.find(name);
    return it == inputs.end() ? torch::Tensor() : it->second;
  };
  in.input_ids = get("input_ids");
  if (!in.input_ids.defined()) throw InvalidArgument("causal LM forward: input_ids is required");
  if (in.input_ids.dim() != 2) {
    throw InvalidArgument(fmt::format("causal LM forward: input_ids must be (batch, length), found {} dims", in.input_ids.dim()));
  }
  in.input_ids = in.input_ids.to(torch::kLong);
  auto check = [&](torch::Tensor t, const char* name) {
    if (t.defined() && t.sizes() != in.input_ids.sizes()) {
      throw InvalidArgument(fmt::format("causal LM forward: {} has shape {}, input_ids {}", name, fmt::join(t.sizes(), "x"),
                                        fmt::join(in.input_ids.sizes(), "x")));
    }
    return t.defined() ? t.to(torch::kLong) : t;
  };
  in.attention_mask = check(get("attention_mask"), "attention_mask");
  if (!in.attention_mask.defined()) in.attention_mask = torch::ones_like(in.input_ids);
  in.position_ids = check(get("position_ids"), "position_ids");
  if (!in.position_ids.defined()) in.position_ids = positions_from_mask(in.attention_mask);
  in.labels = check(get("labels"), "labels");
  return in;
}

torch::Tensor causal_lm_loss(const torch::Tensor& logits, const torch::Tensor& labels) {
  const int64_t v = logits.size(-1);
  auto shifted = torch::cat({labels.narrow(1, 1, labels.size(1) - 1),
                             torch::full({labels.size(0), 1}, -100, labels.options())},
                            1);
  return torch::nn::functional::cross_entropy(
      logits.to(torch::kFloat32).reshape({-1, v}), shifted.reshape({-1}).to(logits.device()),
      torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100).reduction(torch::kMean));
}

CausalLM* as_causal_lm(torch::nn::Module& module) { return dynamic_cast<CausalLM*>(&module); }

}  // namespace xling::models
