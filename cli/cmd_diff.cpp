// `xling diff`: compare the tensors of two safetensors files or checkpoints, the way
// tests compare against HF goldens (allclose with atol/rtol, optional attention mask).
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/common.hpp"
#include "io/tensor_diff.hpp"

namespace xling::cli {
namespace {

inline constexpr int kExitDifferent = 3;

struct DiffCliOptions {
  std::string a, b;
  io::DiffOptions diff;
  bool json = false;
  bool only_failures = false;
  bool ignore_missing = false;
  std::string output = "-";
};

nlohmann::json number(double v) {
  if (std::isinf(v)) return "inf";
  return v;
}

int run_diff(const DiffCliOptions& opt) {
  auto a = io::Checkpoint::open(opt.a);
  auto b = io::Checkpoint::open(opt.b);
  io::DiffReport report = io::diff_checkpoints(a, b, opt.diff);
  TextOutput out(opt.output);
  std::ostream& os = out.stream();
  auto counts = [&](const io::TensorDiff& t) {
    if (t.status == io::DiffStatus::kClose) return false;
    return !(opt.ignore_missing && (t.status == io::DiffStatus::kOnlyInA || t.status == io::DiffStatus::kOnlyInB));
  };
  std::size_t bad = 0;
  for (const auto& t : report.tensors) bad += counts(t);
  if (opt.json) {
    for (const auto& t : report.tensors) {
      if (opt.only_failures && t.status == io::DiffStatus::kClose) continue;
      nlohmann::json j = {{"name", t.name},         {"status", io::diff_status_name(t.status)},
                          {"dtype_a", t.dtype_a},   {"dtype_b", t.dtype_b},
                          {"shape_a", t.shape_a},   {"shape_b", t.shape_b},
                          {"compared", t.compared}, {"mismatched", t.mismatched},
                          {"max_abs", number(t.max_abs)}, {"max_rel", number(t.max_rel)},
                          {"worst_index", t.worst_index}, {"masked", t.masked}};
      os << j.dump() << "\n";
    }
  } else {
    os << fmt::format("{:<52} {:<15} {:<18} {:>11} {:>11} {:>17}\n", "tensor", "status", "shape", "max_abs",
                      "max_rel", "mismatched");
    for (const auto& t : report.tensors) {
      if (opt.only_failures && t.status == io::DiffStatus::kClose) continue;
      std::string shape = t.status == io::DiffStatus::kShapeMismatch ? t.shape_a + " vs " + t.shape_b
                          : t.shape_a.empty()                           ? t.shape_b
                                                                        : t.shape_a;
      bool compared = t.status == io::DiffStatus::kClose || t.status == io::DiffStatus::kDifferent;
      os << fmt::format("{:<52} {:<15} {:<18} {:>11} {:>11} {:>17}\n", t.name, io::diff_status_name(t.status), shape,
                        compared ? fmt::format("{:.3e}", t.max_abs) : "-",
                        compared ? fmt::format("{:.3e}", t.max_rel) : "-",
                        compared ? fmt::format("{}/{}{}", t.mismatched, t.compared, t.masked ? "*" : "") : "-");
    }
    os << fmt::format("{} tensors, {} within atol={:g} rtol={:g}, {} not{}\n", report.tensors.size(),
                      report.tensors.size() - bad, opt.diff.atol, opt.diff.rtol, bad,
                      opt.diff.mask_key.empty() ? "" : fmt::format(" (* = masked by '{}')", opt.diff.mask_key));
  }
  out.commit();
  return bad == 0 ? kExitOk : kExitDifferent;
}

}  // namespace

void add_diff_command(CLI::App& app, CommandList& commands) {
  auto opt = std::make_shared<DiffCliOptions>();
  CLI::App* sub = app.add_subcommand(
      "diff",
      "Compare the tensors of two .safetensors files (or model directories) by name: max absolute and relative "
      "error, shape and dtype mismatches, tensors on one side only. Element-wise test: |a-b| <= atol + rtol*|b| "
      "(B is the reference). Exit 0 when all tensors are close, 3 when some differ, 1 on bad input.");
  sub->add_option("a", opt->a, "First file or checkpoint directory")->required();
  sub->add_option("b", opt->b, "Second file or checkpoint directory (the reference)")->required();
  sub->add_option("--atol", opt->diff.atol, "Absolute tolerance")->capture_default_str()->check(CLI::NonNegativeNumber);
  sub->add_option("--rtol", opt->diff.rtol, "Relative tolerance")->capture_default_str()->check(CLI::NonNegativeNumber);
  sub->add_option("--mask-key", opt->diff.mask_key,
                  "Name of a (batch, time) mask tensor, e.g. attention_mask: tensors whose leading dims are "
                  "(batch, time) are compared only where the mask is non-zero");
  sub->add_flag("--json", opt->json, "One JSON object per tensor (JSONL) instead of a table");
  sub->add_flag("--only-failures", opt->only_failures, "List only tensors that are not close");
  sub->add_flag("--ignore-missing", opt->ignore_missing,
                "Tensors present on one side only (e.g. a golden's inputs) do not count as differences");
  sub->add_option("--output,-o", opt->output, "Where to write ('-' = stdout)")->capture_default_str();
  commands.push_back({sub, [opt]() { return run_diff(*opt); }});
}

}  // namespace xling::cli
