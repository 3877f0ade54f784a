// An evaluation suite (TASKS.json): tasks, each with a type, metrics and one JSONL file per
// language. Schema in docs/eval.md. Paths are relative to the suite file.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace xling::eval {

enum class TaskType { kClassification, kPairClassification, kTokenClassification, kRetrieval, kReranking,
                      kBitextMining, kSts, kTranslation };

const char* task_type_name(TaskType t);

struct LanguageFile {
  std::string language;
  std::string path;  // resolved against the suite file's folder
};

struct TaskConfig {
  std::string name;
  TaskType type = TaskType::kClassification;
  std::vector<std::string> metrics;  // first = primary
  std::vector<LanguageFile> languages;
  std::string source_language;       // for the transfer gap ("" = none)
  bool parallel = false;             // items are translations of each other (consistency)
  std::vector<std::string> label_names;  // token-classification: tag names for integer tags
  // Field renames for the data files, {"source": "en"}: the task reads field "en" where its type
  // expects "source" (e.g. one file of {"en", "text"} rows serves both bitext directions).
  std::vector<std::pair<std::string, std::string>> fields;
  int worst_k = 3;
};

struct SuiteConfig {
  std::string path, name;
  std::vector<TaskConfig> tasks;
};

// Reads and validates TASKS.json. Errors name the file, the task and the key.
SuiteConfig load_suite(const std::string& path);

// The metrics each task type accepts, the first being the default.
const std::vector<std::string>& metrics_for(TaskType t);

}  // namespace xling::eval
