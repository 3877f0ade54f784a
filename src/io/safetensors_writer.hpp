// Atomic, deterministic safetensors writer. Tensors are laid out largest element size
// first, then by name, so every tensor stays aligned to its element size; the header is
// padded with spaces to a multiple of 8 bytes. Same inputs -> same bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "xling/dtype.hpp"

namespace xling::io {

struct TensorToWrite {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const void* data = nullptr;  // nbytes bytes, little-endian; may be null when nbytes == 0
  std::size_t nbytes = 0;
};

// Builds the 8-byte length + padded JSON header for `tensors` in the order given.
// Throws InvalidArgument on duplicate names, the reserved name "__metadata__", negative
// dims, or nbytes that do not match shape x dtype.
std::string encode_safetensors_header(const std::vector<TensorToWrite>& tensors,
                                      const std::map<std::string, std::string>& metadata);

// Sorts into the writer's layout: largest element size first, then by name.
void sort_for_layout(std::vector<TensorToWrite>& tensors);

// Writes the whole file to `out` (e.g. stdout) in the same layout, non-atomically.
void write_safetensors(std::ostream& out, std::vector<TensorToWrite> tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Writes `path` atomically (temp file + fsync + rename). Throws IoError / InvalidArgument.
void write_safetensors(const std::string& path, std::vector<TensorToWrite> tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace xling::io
