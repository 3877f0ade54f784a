// Checkpoint comparison (see tensor_diff.hpp).
#include "io/tensor_diff.hpp"

#include <cmath>
#include <limits>
#include <set>

#include <fmt/format.h>

#include "io/tensor_values.hpp"
#include "xling/errors.hpp"

namespace xling::io {

const char* diff_status_name(DiffStatus status) {
  switch (status) {
    case DiffStatus::kClose: return "close";
    case DiffStatus::kDifferent: return "different";
    case DiffStatus::kShapeMismatch: return "shape-mismatch";
    case DiffStatus::kOnlyInA: return "only-in-a";
    case DiffStatus::kOnlyInB: return "only-in-b";
  }
  return "?";
}

bool DiffReport::all_close() const {
  for (const auto& t : tensors) {
    if (t.status != DiffStatus::kClose) return false;
  }
  return true;
}

namespace {

struct Mask {
  const TensorView* view = nullptr;
  int64_t rows = 0, cols = 0;
};

void compare(const TensorView& a, const TensorView& b, const Mask& mask, const DiffOptions& opt, TensorDiff& d) {
  const uint64_t n = static_cast<uint64_t>(a.numel());
  // Mask applies when the tensor's leading dims are the mask's (B, T).
  bool use_mask = mask.view != nullptr && a.name != mask.view->name && a.shape.size() >= 2 && a.shape[0] == mask.rows &&
                  a.shape[1] == mask.cols;
  uint64_t inner = 1;
  if (use_mask) {
    for (std::size_t k = 2; k < a.shape.size(); ++k) inner *= static_cast<uint64_t>(a.shape[k]);
  }
  d.masked = use_mask;
  for (uint64_t i = 0; i < n; ++i) {
    if (use_mask && value_at(*mask.view, i / inner) == 0.0) continue;
    double x = value_at(a, i), y = value_at(b, i);
    ++d.compared;
    double abs_err, rel_err;
    bool close;
    if (std::isnan(x) || std::isnan(y)) {
      close = std::isnan(x) && std::isnan(y);
      abs_err = rel_err = close ? 0.0 : std::numeric_limits<double>::infinity();
    } else if (std::isinf(x) || std::isinf(y)) {
      close = x == y;
      abs_err = rel_err = close ? 0.0 : std::numeric_limits<double>::infinity();
    } else {
      abs_err = std::fabs(x - y);
      rel_err = y != 0.0 ? abs_err / std::fabs(y) : (abs_err == 0.0 ? 0.0 : std::numeric_limits<double>::infinity());
      close = abs_err <= opt.atol + opt.rtol * std::fabs(y);
    }
    if (!close) ++d.mismatched;
    if (abs_err > d.max_abs) {
      d.max_abs = abs_err;
      d.worst_index = i;
    }
    if (rel_err > d.max_rel) d.max_rel = rel_err;
  }
  d.status = d.mismatched == 0 ? DiffStatus::kClose : DiffStatus::kDifferent;
}

}  // namespace

DiffReport diff_checkpoints(const Checkpoint& a, const Checkpoint& b, const DiffOptions& opt) {
  Mask mask;
  if (!opt.mask_key.empty()) {
    mask.view = a.find(opt.mask_key);
    if (!mask.view) mask.view = b.find(opt.mask_key);
    if (!mask.view) {
      throw IoError(fmt::format("--mask-key '{}': neither {} nor {} holds such a tensor", opt.mask_key, a.path(),
                                b.path()));
    }
    if (mask.view->shape.size() != 2) {
      throw IoError(fmt::format("--mask-key '{}': expected a 2-D (batch, time) tensor, found shape {}", opt.mask_key,
                                mask.view->shape_string()));
    }
    mask.rows = mask.view->shape[0];
    mask.cols = mask.view->shape[1];
  }
  std::set<std::string> names;
  for (const auto& n : a.names()) names.insert(n);
  for (const auto& n : b.names()) names.insert(n);
  DiffReport report;
  for (const auto& name : names) {
    TensorDiff d;
    d.name = name;
    const TensorView* ta = a.find(name);
    const TensorView* tb = b.find(name);
    if (ta) {
      d.dtype_a = dtype_name(ta->dtype);
      d.shape_a = ta->shape_string();
    }
    if (tb) {
      d.dtype_b = dtype_name(tb->dtype);
      d.shape_b = tb->shape_string();
    }
    if (!tb) d.status = DiffStatus::kOnlyInA;
    else if (!ta) d.status = DiffStatus::kOnlyInB;
    else if (ta->shape != tb->shape) d.status = DiffStatus::kShapeMismatch;
    else compare(*ta, *tb, mask, opt, d);
    report.tensors.push_back(std::move(d));
  }
  return report;
}

}  // namespace xling::io
