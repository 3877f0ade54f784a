// Weight arithmetic on HF checkpoints: uniform averaging of N models ("model soups", checkpoint
// averaging) and task-vector transfer base + s * (plus - minus). Tensors are combined in
// float64 and stored in each tensor's own dtype; the output directory gets the first input's
// config and tokenizer files.
#pragma once

#include <string>
#include <vector>

namespace xling::train {

// Every input must hold the same tensor names, shapes and dtypes (else InvalidArgument listing
// the first differences). Writes `output`/model.safetensors (+ copied config/tokenizer files).
void average_checkpoints(const std::vector<std::string>& inputs, const std::string& output);

// output = base + scale * (plus - minus), tensor by tensor; integer tensors are copied from base.
void merge_checkpoints(const std::string& base, const std::string& plus, const std::string& minus, double scale,
                       const std::string& output);

}  // namespace xling::train
