// Suite runner (see runner.hpp).
#include "eval/runner.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>

#include <fmt/format.h>

#include "core/format.hpp"
#include "core/json.hpp"
#include "core/progress.hpp"
#include "eval/mteb.hpp"
#include "eval/scoring.hpp"
#include "metrics/cross_lingual.hpp"
#include "xling/errors.hpp"
#include "xling/version.hpp"

namespace xling::eval {
namespace {

std::vector<nlohmann::json> read_jsonl(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(fmt::format("{}: missing {} file", path, what));
  std::vector<nlohmann::json> rows;
  std::string line;
  std::size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) {
      throw InvalidArgument(fmt::format("{}:{}: empty line (every line is one JSON record)", path, n));
    }
    try {
      rows.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::exception& e) {
      throw InvalidArgument(fmt::format("{}:{}: not valid JSON (or not UTF-8)", path, n));
    }
    if (!rows.back().is_object()) throw InvalidArgument(fmt::format("{}:{}: expected a JSON object", path, n));
  }
  if (rows.empty()) throw InvalidArgument(fmt::format("{}: empty {} file", path, what));
  return rows;
}

}  // namespace

SuiteResult run_suite(const SuiteConfig& suite, const RunOptions& opt) {
  namespace fs = std::filesystem;
  auto t0 = std::chrono::steady_clock::now();
  if (opt.predictions_dir.empty() && !opt.predict) {
    throw InvalidArgument("nothing to score: give a model (--model) or a predictions folder (--predictions DIR with "
                          "DIR/<task>/<language>.jsonl)");
  }
  SuiteResult result;
  result.suite = suite.name;
  result.model = opt.model_dir;
  result.predictions = opt.predictions_dir;
  result.xling_version = kVersion;
  result.date = core::utc_now_iso();
  std::size_t total = 0;
  for (const auto& t : suite.tasks) total += t.languages.size();
  core::Progress progress("eval", total, !opt.quiet);
  for (const auto& task : suite.tasks) {
    TaskResult tr;
    tr.name = task.name;
    tr.type = task_type_name(task.type);
    tr.source_language = task.source_language;
    for (const auto& m : task.metrics) tr.metrics.push_back(MetricResult{m, "", {}, 0, 0, {}, std::nullopt});
    std::vector<std::vector<std::string>> keys;  // per language, per item (consistency)
    for (const auto& lf : task.languages) {
      progress.set_label(fmt::format("eval {}/{}", task.name, lf.language));
      auto gold = task.type == TaskType::kRetrieval && is_mteb_retrieval_dir(lf.path) ? load_mteb_queries(lf.path)
                                                                                     : read_jsonl(lf.path, "data");
      for (auto& row : gold) {
        for (const auto& [want, have] : task.fields) {
          if (row.contains(have)) row[want] = row[have];
        }
      }
      std::string pred_path;
      std::vector<nlohmann::json> pred;
      if (!opt.predictions_dir.empty()) {
        pred_path = (fs::path(opt.predictions_dir) / task.name / (lf.language + ".jsonl")).string();
        pred = read_jsonl(pred_path, "predictions");
      } else {
        pred_path = fmt::format("{} predictions for {}", opt.model_dir.empty() ? "model" : opt.model_dir, lf.path);
        pred = opt.predict(task, lf, gold);
        if (!opt.save_predictions_dir.empty()) {
          fs::path dir = fs::path(opt.save_predictions_dir) / task.name;
          fs::create_directories(dir);
          core::write_jsonl_file((dir / (lf.language + ".jsonl")).string(), pred);
        }
      }
      if (pred.size() != gold.size()) {
        throw InvalidArgument(fmt::format("{} has {} lines but {} has {}: one prediction per item", pred_path, pred.size(),
                                          lf.path, gold.size()));
      }
      for (std::size_t k = 0; k < task.metrics.size(); ++k) {
        Scored s = score_metric(task, task.metrics[k], gold, pred, lf.path, pred_path);
        tr.metrics[k].per_language.push_back({lf.language, s.value, gold.size()});
        if (tr.metrics[k].signature.empty()) tr.metrics[k].signature = s.signature;
      }
      if (task.parallel) {
        std::vector<std::string> k;
        for (const auto& p : pred) k.push_back(prediction_key(task, p));
        keys.push_back(std::move(k));
      }
      progress.advance();
    }
    for (auto& m : tr.metrics) {
      std::vector<metrics::LanguageScore> scores;
      // TER: lower is better, so "worst" means highest; rank on the negated value.
      const double sign = m.metric == "ter" ? -1.0 : 1.0;
      for (const auto& l : m.per_language) {
        scores.push_back({l.language, sign * l.value, static_cast<int64_t>(l.items)});
      }
      metrics::CrossLingualOptions co;
      co.worst_k = static_cast<std::size_t>(std::max(0, task.worst_k));
      if (!task.source_language.empty() && m.per_language.size() > 1) co.source_language = task.source_language;
      metrics::CrossLingualSummary sum = metrics::summarize(scores, co);
      m.mean = sign * sum.item_weighted_mean;
      m.macro_mean = sign * sum.macro_mean;
      for (const auto& w : sum.worst) m.worst.push_back(w.language);
      if (sum.transfer_gap) m.transfer_gap = sign * *sum.transfer_gap;
    }
    if (task.parallel && keys.size() > 1) {
      std::size_t n = keys[0].size();
      for (const auto& k : keys) {
        if (k.size() != n) {
          throw InvalidArgument(fmt::format("task '{}' is marked parallel but its languages have different item counts",
                                            task.name));
        }
      }
      std::map<std::string, int64_t> ids;  // prediction -> id, shared by all languages
      std::vector<std::vector<int64_t>> preds;
      for (const auto& k : keys) {
        std::vector<int64_t> row;
        for (const auto& p : k) row.push_back(ids.emplace(p, static_cast<int64_t>(ids.size())).first->second);
        preds.push_back(std::move(row));
      }
      tr.consistency = metrics::consistency(preds);
    }
    result.tasks.push_back(std::move(tr));
  }
  result.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace xling::eval
