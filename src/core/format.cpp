// Human-readable numbers (see format.hpp).
#include "core/format.hpp"

#include <ctime>

#include <fmt/format.h>

namespace xling::core {

std::string human_bytes(uint64_t bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1000.0 && u < 4) {
    v /= 1000.0;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.2f} {}", v, units[u]);
}

std::string human_count(uint64_t n) {
  if (n >= 1000000000ull) return fmt::format("{:.2f}B", static_cast<double>(n) / 1e9);
  if (n >= 1000000ull) return fmt::format("{:.2f}M", static_cast<double>(n) / 1e6);
  if (n >= 1000ull) return fmt::format("{:.2f}k", static_cast<double>(n) / 1e3);
  return fmt::format("{}", n);
}

std::string utc_now_iso() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace xling::core
