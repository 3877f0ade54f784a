// IEEE binary16 (F16) and bfloat16 (BF16) <-> float32 conversions, bit-exact with
// PyTorch's: round to nearest even, canonical NaNs (0x7E00 | sign for F16, 0x7FC0 for BF16).
#pragma once

#include <cstdint>

namespace xling::core {

float f16_to_f32(uint16_t bits);
uint16_t f32_to_f16(float value);
float bf16_to_f32(uint16_t bits);
uint16_t f32_to_bf16(float value);

}  // namespace xling::core
