// Element decoding for every safetensors dtype (see tensor_values.hpp). Checkpoints are
// little-endian, like every machine xling targets.
#include "io/tensor_values.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "core/half.hpp"

namespace xling::io {
namespace {

template <class T>
T load(const std::byte* p, std::size_t i) {
  T v;
  std::memcpy(&v, p + i * sizeof(T), sizeof(T));
  return v;
}

double f8e4m3fn_to_double(uint8_t b) {
  int sign = (b & 0x80) ? -1 : 1;
  int exp = (b >> 3) & 0xf;
  int mant = b & 0x7;
  if (exp == 15 && mant == 7) return std::numeric_limits<double>::quiet_NaN();
  if (exp == 0) return sign * std::ldexp(mant, -9);
  return sign * std::ldexp(8 + mant, exp - 10);  // (1 + m/8) * 2^(e-7)
}

}  // namespace

double value_at(const TensorView& v, std::size_t i) {
  const std::byte* p = v.data;
  switch (v.dtype) {
    case DType::kF64: return load<double>(p, i);
    case DType::kF32: return load<float>(p, i);
    case DType::kF16: return core::f16_to_f32(load<uint16_t>(p, i));
    case DType::kBF16: return core::bf16_to_f32(load<uint16_t>(p, i));
    case DType::kF8E4M3: return f8e4m3fn_to_double(load<uint8_t>(p, i));
    case DType::kF8E5M2: return core::f16_to_f32(static_cast<uint16_t>(load<uint8_t>(p, i)) << 8);
    case DType::kI64: return static_cast<double>(load<int64_t>(p, i));
    case DType::kI32: return load<int32_t>(p, i);
    case DType::kI16: return load<int16_t>(p, i);
    case DType::kI8: return load<int8_t>(p, i);
    case DType::kU64: return static_cast<double>(load<uint64_t>(p, i));
    case DType::kU32: return load<uint32_t>(p, i);
    case DType::kU16: return load<uint16_t>(p, i);
    case DType::kU8: return load<uint8_t>(p, i);
    case DType::kBool: return load<uint8_t>(p, i) != 0 ? 1.0 : 0.0;
  }
  return 0.0;
}

}  // namespace xling::io
