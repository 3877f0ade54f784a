// Process memory figures (see memory.hpp).
#include "core/memory.hpp"

#include <fstream>
#include <string>

namespace xling::core {

uint64_t peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;  // "VmHWM:   123 kB"
  }
  return 0;
}

}  // namespace xling::core
