// Runs an evaluation suite: reads each task's gold JSONL per language and the matching
// predictions, scores them, and adds the cross-lingual summaries.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/results.hpp"
#include "eval/suite.hpp"

namespace xling::eval {

// Makes the predictions of one task and language from its gold rows (fields already renamed):
// one prediction object per row, in order. Used when no predictions folder is given; the
// model-backed one is tasks::model_predictor (tasks/eval_predictor.hpp).
using Predictor = std::function<std::vector<nlohmann::json>(const TaskConfig& task, const LanguageFile& file,
                                                            const std::vector<nlohmann::json>& gold)>;

struct RunOptions {
  std::string predictions_dir;  // <dir>/<task name>/<language>.jsonl
  std::string model_dir;        // recorded in the results
  Predictor predict;            // when predictions_dir is empty
  std::string save_predictions_dir;  // write what `predict` made as <dir>/<task>/<language>.jsonl ("" = no)
  bool quiet = false;
};

// Throws InvalidArgument / IoError naming the file and line at fault.
SuiteResult run_suite(const SuiteConfig& suite, const RunOptions& options);

}  // namespace xling::eval
