// Runs an evaluation suite: reads each task's gold JSONL per language and the matching
// predictions, scores them, and adds the cross-lingual summaries.
#pragma once

#include <string>

#include "eval/results.hpp"
#include "eval/suite.hpp"

namespace xling::eval {

struct RunOptions {
  std::string predictions_dir;  // <dir>/<task name>/<language>.jsonl
  std::string model_dir;        // running models inside the suite arrives with the model issues
  bool quiet = false;
};

// Throws InvalidArgument / IoError naming the file and line at fault.
SuiteResult run_suite(const SuiteConfig& suite, const RunOptions& options);

}  // namespace xling::eval
