// Element types of checkpoint tensors, named as safetensors names them.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace xling {

enum class DType {
  kF64, kF32, kF16, kBF16, kF8E4M3, kF8E5M2,
  kI64, kI32, kI16, kI8, kU64, kU32, kU16, kU8, kBool,
};

// "F32", "BF16", ... as written in safetensors headers.
std::string_view dtype_name(DType dtype);
// Parses a safetensors dtype string; nullopt when unknown.
std::optional<DType> parse_dtype(std::string_view name);
std::size_t dtype_size(DType dtype);  // bytes per element
bool is_floating(DType dtype);

}  // namespace xling
