// Named outputs of a model forward pass, keyed by HF's output names: hidden_states.N
// (N = 0 is the embedding output), last_hidden_state, pooler_output, logits, loss.
#pragma once

#include <map>
#include <string>

#include <torch/types.h>

namespace xling::models {

using NamedTensors = std::map<std::string, torch::Tensor>;

}  // namespace xling::models
