// Process memory figures for reports (`xling embed` prints its peak RSS).
#pragma once

#include <cstdint>

namespace xling::core {

// Peak resident set size of this process in bytes (Linux VmHWM); 0 where unknown.
uint64_t peak_rss_bytes();
// Current resident set size in bytes (Linux VmRSS); 0 where unknown.
uint64_t current_rss_bytes();

}  // namespace xling::core
