// One task type's items and predictions -> metric values, through src/metrics/.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/suite.hpp"

namespace xling::eval {

struct Scored {
  double value = 0;
  std::string signature;  // sacrebleu signature for MT metrics
};

// `gold[i]` and `pred[i]` are the i-th JSONL records of one language's files; `where` names
// the files for errors (field missing, wrong type: "<file>:<line>: ...").
Scored score_metric(const TaskConfig& task, const std::string& metric, const std::vector<nlohmann::json>& gold,
                    const std::vector<nlohmann::json>& pred, const std::string& gold_path, const std::string& pred_path);

// The prediction of item i reduced to a string, for cross-lingual consistency.
std::string prediction_key(const TaskConfig& task, const nlohmann::json& pred);

}  // namespace xling::eval
