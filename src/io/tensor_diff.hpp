// Tensor-by-tensor comparison of two checkpoints (`xling diff`): max absolute and relative
// error, allclose verdict (|a - b| <= atol + rtol * |b|, b the reference), shape and dtype
// mismatches, tensors present on one side only. An optional mask (B, T) restricts
// tensors whose leading dims are (B, T) to the positions where the mask is non-zero.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/checkpoint.hpp"

namespace xling::io {

struct DiffOptions {
  double atol = 1e-8;  // torch.allclose defaults
  double rtol = 1e-5;
  std::string mask_key;  // e.g. "attention_mask"; empty = compare every element
};

enum class DiffStatus { kClose, kDifferent, kShapeMismatch, kOnlyInA, kOnlyInB };
const char* diff_status_name(DiffStatus status);

struct TensorDiff {
  std::string name;
  DiffStatus status = DiffStatus::kClose;
  std::string dtype_a, dtype_b;
  std::string shape_a, shape_b;
  uint64_t compared = 0;    // elements compared (after masking)
  uint64_t mismatched = 0;  // elements outside tolerance
  double max_abs = 0.0;
  double max_rel = 0.0;     // |a-b| / |b|; inf where b == 0 != a
  uint64_t worst_index = 0; // flat index of the largest |a - b|
  bool masked = false;
};

struct DiffReport {
  std::vector<TensorDiff> tensors;  // sorted by name
  bool all_close() const;
};

// Throws IoError when mask_key names a tensor that is missing or not 2-D.
DiffReport diff_checkpoints(const Checkpoint& a, const Checkpoint& b, const DiffOptions& options);

}  // namespace xling::io
