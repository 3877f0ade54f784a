// Safetensors dtype names and sizes (see xling/dtype.hpp).
#include "xling/dtype.hpp"

#include <array>
#include <utility>

namespace xling {
namespace {

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  std::size_t size;
  bool floating;
};

constexpr std::array<DTypeInfo, 15> kTable = {{
    {DType::kF64, "F64", 8, true},     {DType::kF32, "F32", 4, true},
    {DType::kF16, "F16", 2, true},     {DType::kBF16, "BF16", 2, true},
    {DType::kF8E4M3, "F8_E4M3", 1, true}, {DType::kF8E5M2, "F8_E5M2", 1, true},
    {DType::kI64, "I64", 8, false},    {DType::kI32, "I32", 4, false},
    {DType::kI16, "I16", 2, false},    {DType::kI8, "I8", 1, false},
    {DType::kU64, "U64", 8, false},    {DType::kU32, "U32", 4, false},
    {DType::kU16, "U16", 2, false},    {DType::kU8, "U8", 1, false},
    {DType::kBool, "BOOL", 1, false},
}};

const DTypeInfo& info(DType dtype) { return kTable[static_cast<std::size_t>(dtype)]; }

}  // namespace

std::string_view dtype_name(DType dtype) { return info(dtype).name; }
std::size_t dtype_size(DType dtype) { return info(dtype).size; }
bool is_floating(DType dtype) { return info(dtype).floating; }

std::optional<DType> parse_dtype(std::string_view name) {
  for (const auto& entry : kTable) {
    if (entry.name == name) return entry.dtype;
  }
  return std::nullopt;
}

}  // namespace xling
