// Human-readable values for CLI output and records: byte sizes, parameter counts, UTC times.
#pragma once

#include <cstdint>
#include <string>

namespace xling::core {

std::string human_bytes(uint64_t bytes);  // "1.23 GB" (decimal units, like HF)
std::string human_count(uint64_t n);      // "278.04M", "1.2B", "950"
std::string utc_now_iso();                // "2026-11-26T20:31:38Z" (records' creation times)

}  // namespace xling::core
