// Checkpoint tensors as torch::Tensor without copies: the tensor's storage is the mmapped
// file (copy-on-write), and its deleter keeps the mapping alive. Misaligned data (possible
// only in hand-made files) is copied once, and the copy is reported by `copied`.
#pragma once

#include <string>
#include <vector>

#include <torch/types.h>

#include "io/checkpoint.hpp"

namespace xling::layers {

torch::ScalarType to_scalar_type(DType dtype);

// `view` must belong to a file kept alive by `owner`. Shapes as stored.
torch::Tensor tensor_from_view(const io::TensorView& view, std::shared_ptr<const void> owner,
                               bool* copied = nullptr);

// Lookup by name (or tied aliases, first stored wins), returning a zero-copy tensor.
// `expected_shape` (when not empty) is checked: a mismatch throws IoError naming the
// checkpoint, tensor, expected and found shapes.
torch::Tensor load_tensor(const io::Checkpoint& ckpt, const std::vector<std::string>& aliases,
                          const std::vector<int64_t>& expected_shape = {});

}  // namespace xling::layers
