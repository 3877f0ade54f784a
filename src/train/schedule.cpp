// Learning-rate schedules (see schedule.hpp).
#include "train/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include <fmt/format.h>

#include "xling/errors.hpp"

namespace xling::train {

Schedule parse_schedule(const std::string& name) {
  if (name == "linear") return Schedule::kLinear;
  if (name == "cosine") return Schedule::kCosine;
  if (name == "constant") return Schedule::kConstant;
  throw InvalidArgument(fmt::format("scheduler '{}' is not one of linear, cosine, constant", name));
}

double lr_factor(Schedule s, int64_t done, int64_t warmup, int64_t total) {
  const auto d = static_cast<double>(done);
  if (done < warmup) return d / static_cast<double>(std::max<int64_t>(1, warmup));
  switch (s) {
    case Schedule::kConstant: return 1.0;
    case Schedule::kLinear:
      return std::max(0.0, static_cast<double>(total - done) / static_cast<double>(std::max<int64_t>(1, total - warmup)));
    case Schedule::kCosine: {
      const double progress = static_cast<double>(done - warmup) / static_cast<double>(std::max<int64_t>(1, total - warmup));
      return std::max(0.0, 0.5 * (1.0 + std::cos(std::numbers::pi * 2.0 * 0.5 * progress)));
    }
  }
  return 1.0;
}

}  // namespace xling::train
