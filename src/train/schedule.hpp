// Learning-rate schedules as transformers' get_{linear,cosine,constant}_schedule_with_warmup:
// the update number k (1-based) uses base_lr * factor(k - 1).
#pragma once

#include <cstdint>
#include <string>

namespace xling::train {

enum class Schedule { kLinear, kCosine, kConstant };
Schedule parse_schedule(const std::string& name);  // linear, cosine, constant

// Multiplier of the base learning rate after `done` optimizer updates (0 for the first).
double lr_factor(Schedule s, int64_t done, int64_t warmup_steps, int64_t total_steps);

}  // namespace xling::train
