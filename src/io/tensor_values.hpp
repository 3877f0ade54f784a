// Element access for any safetensors dtype as double, for tools (diff, info) that must
// read tensors of every dtype without libtorch. Not for model code: that uses torch.
#pragma once

#include <cstddef>

#include "io/safetensors.hpp"

namespace xling::io {

// Element `i` (row-major) of `view` as a double; bounds are the caller's duty.
double value_at(const TensorView& view, std::size_t i);

}  // namespace xling::io
