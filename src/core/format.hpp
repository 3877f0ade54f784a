// Human-readable numbers for CLI output: byte sizes, parameter counts.
#pragma once

#include <cstdint>
#include <string>

namespace xling::core {

std::string human_bytes(uint64_t bytes);  // "1.23 GB" (decimal units, like HF)
std::string human_count(uint64_t n);      // "278.04M", "1.2B", "950"

}  // namespace xling::core
