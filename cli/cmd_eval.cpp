// `xling eval`: run a multilingual evaluation suite and write results.json, results.md and a
// self-contained report.html with per-language charts.
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "cli/common.hpp"
#include "core/atomic_file.hpp"
#include "core/json.hpp"
#include "eval/report.hpp"
#include "eval/runner.hpp"
#include "io/model_location.hpp"
#include "models/registry.hpp"
#include "tasks/eval_predictor.hpp"
#include "xling/errors.hpp"

namespace xling::cli {
namespace {

struct EvalOptions {
  std::string config;
  std::string model;
  std::string predictions;
  std::string output_dir = "eval-results";
  std::string save_predictions;
  std::string dtype = "f32", device = "cpu";
  std::size_t batch_tokens = 0;
  bool quiet = false;
};

// FNV-1a 64 of config.json: identifies the model configuration in results.json.
std::string config_hash(const std::string& model_dir) {
  if (model_dir.empty()) return "";
  std::string text = core::read_text_file((std::filesystem::path(model_dir) / "config.json").string());
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return fmt::format("fnv1a64:{:016x}", h);
}

int run_eval(const EvalOptions& opt) {
  eval::SuiteConfig suite = eval::load_suite(opt.config);
  eval::RunOptions ro;
  ro.predictions_dir = opt.predictions;
  ro.quiet = opt.quiet;
  std::string model = opt.model;
  if (opt.predictions.empty()) {  // run the model: --model, or the embedded default
    model = io::resolve_model(opt.model);
    tasks::PredictorOptions po;
    po.load = models::LoadOptions::with_dtype(models::parse_compute_dtype(opt.dtype), models::parse_device(opt.device));
    po.batch_tokens = opt.batch_tokens;
    ro.predict = tasks::model_predictor(model, po);
    ro.save_predictions_dir = opt.save_predictions;
  } else if (!model.empty()) {
    model = io::resolve_model(model);
  }
  ro.model_dir = model;
  std::string hash = config_hash(model);
  eval::SuiteResult r = eval::run_suite(suite, ro);
  r.model_hash = hash;
  std::filesystem::create_directories(opt.output_dir);
  auto path = [&](const char* name) { return (std::filesystem::path(opt.output_dir) / name).string(); };
  core::write_file_atomic(path("results.json"), r.to_json().dump(2) + "\n");
  core::write_file_atomic(path("results.md"), eval::render_markdown(r));
  core::write_file_atomic(path("report.html"), eval::render_html(r));
  if (!opt.quiet) {
    for (const auto& t : r.tasks) {
      if (t.metrics.empty()) continue;
      const auto& m = t.metrics[0];
      std::cerr << fmt::format("{:<28} {:<10} mean {:8.4f}  macro {:8.4f}  ({} languages)\n", t.name, m.metric, m.mean,
                               m.macro_mean, m.per_language.size());
    }
    std::cerr << fmt::format("wrote {}, {}, {}\n", path("results.json"), path("results.md"), path("report.html"));
  }
  return kExitOk;
}

}  // namespace

void add_eval_command(CLI::App& app, CommandList& commands) {
  auto opt = std::make_shared<EvalOptions>();
  CLI::App* sub = app.add_subcommand(
      "eval",
      "Run an evaluation suite (TASKS.json: tasks with a type, metrics and one JSONL file per language; schema in "
      "docs/eval.md) and write results.json, results.md and report.html (self-contained, SVG charts) to "
      "--output-dir. Predictions come from the model (--model, default: the embedded xling-mini; bitext-mining, sts, "
      "retrieval/reranking with a sentence encoder or cross-encoder, classification with a classifier) or are read "
      "from --predictions DIR/<task>/<language>.jsonl.");
  sub->add_option("--config,-c", opt->config, "Suite file (TASKS.json)")->required();
  sub->add_option("--model,-m", opt->model,
                  "Model directory or shipped model name that makes the predictions (recorded in results.json with its "
                  "config hash); default without --predictions: xling-mini");
  sub->add_option("--predictions,-p", opt->predictions, "Score these <task>/<language>.jsonl predictions instead of running a model");
  sub->add_option("--save-predictions", opt->save_predictions, "Write the model's predictions as DIR/<task>/<language>.jsonl");
  sub->add_option("--batch-tokens", opt->batch_tokens, "Token budget per batch (0 = the device's default)");
  add_compute_options(sub, opt->device, opt->dtype);
  sub->add_option("--output-dir,-o", opt->output_dir, "Where to write the three report files")->capture_default_str();
  sub->add_flag("--quiet,-q", opt->quiet, "No progress bar or summary on stderr");
  commands.push_back({sub, [opt]() { return run_eval(*opt); }});
}

}  // namespace xling::cli
