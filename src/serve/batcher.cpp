// Non-template parts of the dynamic batcher (see batcher.hpp).
#include "serve/batcher.hpp"

#include <fmt/format.h>

#include "xling/errors.hpp"

namespace xling::serve {

void check_batcher_options(const BatcherOptions& o) {
  auto positive = [](const char* field, std::size_t v) {
    if (v == 0) throw InvalidArgument(fmt::format("BatcherOptions::{} must be >= 1, found 0", field));
  };
  positive("max_batch_tokens", o.max_batch_tokens);
  positive("max_batch_items", o.max_batch_items);
  positive("max_queue_items", o.max_queue_items);
  if (o.max_wait.count() < 0) {
    throw InvalidArgument(fmt::format("BatcherOptions::max_wait must be >= 0, found {} us", o.max_wait.count()));
  }
}

std::string_view batch_status_name(BatchStatus status) {
  switch (status) {
    case BatchStatus::kOk: return "ok";
    case BatchStatus::kQueueFull: return "queue_full";
    case BatchStatus::kCancelled: return "cancelled";
    case BatchStatus::kTimedOut: return "timed_out";
    case BatchStatus::kFailed: return "failed";
    case BatchStatus::kShutdown: return "shutdown";
  }
  return "unknown";
}

}  // namespace xling::serve
