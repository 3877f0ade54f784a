// Half-precision conversions (see half.hpp). Must be compiled without -ffast-math: the
// subnormal path relies on the FPU's round-to-nearest-even addition.
#include "core/half.hpp"

#include <bit>
#include <cmath>

namespace xling::core {

float f16_to_f32(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    if (mant == 0) return std::bit_cast<float>(sign);
    float v = std::ldexp(static_cast<float>(mant), -24);  // exact: subnormal = mant * 2^-24
    return std::bit_cast<float>(std::bit_cast<uint32_t>(v) | sign);
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
  return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (mant << 13));
}

uint16_t f32_to_f16(float value) {
  uint32_t x = std::bit_cast<uint32_t>(value);
  uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x > 0x7f800000u) return sign | 0x7e00u;   // NaN
  if (x >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520 rounds to infinity
  if (x < 0x38800000u) {
    // Below the smallest normal half (2^-14): the ulp of a float in [0.5, 1) is 2^-24,
    // the step of half subnormals, so the FPU's rounding of |v| + 0.5 does the work.
    float shifted = std::bit_cast<float>(x) + 0.5f;
    return sign | static_cast<uint16_t>(std::bit_cast<uint32_t>(shifted) - 0x3f000000u);
  }
  uint32_t odd = (x >> 13) & 1u;
  x += 0xfffu + odd;  // round to nearest, ties to even
  return sign | static_cast<uint16_t>((x - 0x38000000u) >> 13);
}

float bf16_to_f32(uint16_t bits) { return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16); }

uint16_t f32_to_bf16(float value) {
  if (std::isnan(value)) return 0x7fc0u;
  uint32_t x = std::bit_cast<uint32_t>(value);
  uint32_t bias = ((x >> 16) & 1u) + 0x7fffu;
  return static_cast<uint16_t>((x + bias) >> 16);
}

}  // namespace xling::core
