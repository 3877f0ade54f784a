// Results of an evaluation suite: per task, per metric, per language, plus the
// cross-lingual summaries. Written as results.json, results.md and report.html.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace xling::eval {

struct LanguageScore {
  std::string language;
  double value = 0;
  std::size_t items = 0;
};

struct MetricResult {
  std::string metric;
  std::string signature;                   // sacrebleu signature for MT metrics, else ""
  std::vector<LanguageScore> per_language;  // in the suite's language order
  double mean = 0;                          // over all items pooled where the metric allows, else macro
  double macro_mean = 0;                    // mean over languages
  std::vector<std::string> worst;           // worst-k languages, worst first
  std::optional<double> transfer_gap;       // source language minus mean of the others
};

struct TaskResult {
  std::string name, type;
  std::string source_language;
  std::vector<MetricResult> metrics;  // first = primary
  std::optional<double> consistency;  // share of items with the same prediction in every language
};

struct SuiteResult {
  std::string suite, model, model_hash, predictions, xling_version, date;
  double wall_seconds = 0;
  std::vector<TaskResult> tasks;
  nlohmann::json to_json() const;
};

}  // namespace xling::eval
