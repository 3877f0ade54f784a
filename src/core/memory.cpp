// Process memory figures (see memory.hpp).
#include "core/memory.hpp"

#include <fstream>
#include <string>

namespace xling::core {

namespace {

// A "Key:   123 kB" line of /proc/self/status, in bytes.
uint64_t status_kb(const char* key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  const std::string k = key;
  while (std::getline(status, line)) {
    if (line.rfind(k, 0) == 0) return std::stoull(line.substr(k.size())) * 1024;
  }
  return 0;
}

}  // namespace

uint64_t peak_rss_bytes() { return status_kb("VmHWM:"); }
uint64_t current_rss_bytes() { return status_kb("VmRSS:"); }

}  // namespace xling::core
