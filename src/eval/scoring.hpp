// One task type's items and predictions -> metric values, through src/metrics/.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
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

// Record i of `path` (0-based; errors say line i + 1): the first of `keys` present and not
// null, else InvalidArgument "<path>:<line>: missing field 'a' or 'b'".
const nlohmann::json& field(const nlohmann::json& row, std::initializer_list<const char*> keys, const std::string& path,
                            std::size_t i);
// `v` as a string, else InvalidArgument "<path>:<line>: <what> must be a string".
std::string text_of(const nlohmann::json& v, const std::string& path, std::size_t i, const char* what);

// "ndcg@10" -> {"ndcg", 10}; a metric without "@k" -> {name, metrics::kAllDocuments (-1)}.
std::pair<std::string, int64_t> split_at_k(const std::string& metric);

// The prediction of item i reduced to a string, for cross-lingual consistency.
std::string prediction_key(const TaskConfig& task, const nlohmann::json& pred);

}  // namespace xling::eval
