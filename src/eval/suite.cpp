// Suite configuration parsing and validation (see suite.hpp).
#include "eval/suite.hpp"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/json.hpp"
#include "xling/errors.hpp"

namespace xling::eval {

namespace {

struct TypeInfo {
  TaskType type;
  const char* name;
  std::vector<std::string> metrics;
};

const std::vector<TypeInfo>& types() {
  static const std::vector<TypeInfo> t = {
      {TaskType::kClassification, "classification",
       {"accuracy", "f1_macro", "f1_micro", "f1_weighted", "precision_macro", "recall_macro", "mcc", "cohen_kappa"}},
      {TaskType::kPairClassification, "pair-classification",
       {"accuracy", "f1_macro", "f1_micro", "f1_weighted", "precision_macro", "recall_macro", "mcc", "cohen_kappa"}},
      {TaskType::kTokenClassification, "token-classification",
       {"entity_f1", "entity_precision", "entity_recall", "entity_f1_strict"}},
      {TaskType::kRetrieval, "retrieval", {"ndcg@10", "mrr@10", "recall@10", "recall@100", "map@10", "precision@5"}},
      {TaskType::kReranking, "reranking", {"map@10", "mrr@10", "ndcg@10"}},
      {TaskType::kBitextMining, "bitext-mining", {"accuracy", "f1"}},
      {TaskType::kSts, "sts", {"spearman", "pearson", "kendall"}},
      {TaskType::kTranslation, "translation", {"chrf++", "bleu", "chrf", "ter"}},
  };
  return t;
}

}  // namespace

const char* task_type_name(TaskType t) {
  for (const auto& i : types()) {
    if (i.type == t) return i.name;
  }
  return "?";
}

const std::vector<std::string>& metrics_for(TaskType t) {
  for (const auto& i : types()) {
    if (i.type == t) return i.metrics;
  }
  static const std::vector<std::string> none;
  return none;
}

SuiteConfig load_suite(const std::string& path) {
  namespace fs = std::filesystem;
  nlohmann::json j = core::read_json_file(path);
  core::JsonFields f(j, path);
  SuiteConfig suite;
  suite.path = path;
  suite.name = f.string_or("name", fs::path(path).stem().string());
  fs::path base = fs::path(path).parent_path();
  const auto& tasks = f.raw("tasks");
  if (!tasks.is_array() || tasks.empty()) f.fail("tasks", "expected a non-empty list of tasks");
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    std::string where = fmt::format("{}: tasks[{}]", path, i);
    core::JsonFields t(tasks[i], where);
    TaskConfig task;
    task.name = t.string("name");
    where = fmt::format("{}: task '{}'", path, task.name);
    core::JsonFields tf(tasks[i], where);
    std::string type = tf.string("type");
    auto it = std::find_if(types().begin(), types().end(), [&](const TypeInfo& x) { return x.name == type; });
    if (it == types().end()) {
      std::vector<std::string> names;
      for (const auto& x : types()) names.push_back(x.name);
      tf.fail("type", fmt::format("unknown task type (known: {})", fmt::join(names, ", ")));
    }
    task.type = it->type;
    if (tf.has("metric") || tf.has("metrics")) {
      const std::string key = tf.has("metric") ? "metric" : "metrics";
      const auto& m = tf.raw(key);
      if (m.is_string()) task.metrics.push_back(m.get<std::string>());
      else task.metrics = tf.string_list(key);
      for (const auto& name : task.metrics) {
        if (std::find(it->metrics.begin(), it->metrics.end(), name) == it->metrics.end()) {
          tf.fail(key, fmt::format("unknown metric '{}' for {} (known: {})", name, type, fmt::join(it->metrics, ", ")));
        }
      }
    } else {
      task.metrics = {it->metrics.front()};
    }
    const auto& langs = tf.raw("languages");
    if (!langs.is_object() || langs.empty()) tf.fail("languages", "expected an object {language: file.jsonl}");
    for (const auto& [lang, file] : langs.items()) {
      if (!file.is_string()) tf.fail("languages", fmt::format("file of '{}' is not a string", lang));
      fs::path p = file.get<std::string>();
      if (p.is_relative()) p = base / p;
      task.languages.push_back({lang, p.string()});
    }
    task.source_language = tf.string_or("source_language", "");
    if (!task.source_language.empty() && !langs.contains(task.source_language)) {
      tf.fail("source_language", "is not one of the task's languages");
    }
    task.parallel = tf.boolean_or("parallel", false);
    if (tf.has("label_names")) task.label_names = tf.string_list("label_names");
    if (tf.has("fields")) {
      const auto& fm = tf.raw("fields");
      if (!fm.is_object()) tf.fail("fields", "expected an object {expected field: field in the data files}");
      for (const auto& [k, v] : fm.items()) {
        if (!v.is_string()) tf.fail("fields", fmt::format("the field for '{}' is not a string", k));
        task.fields.emplace_back(k, v.get<std::string>());
      }
    }
    task.worst_k = static_cast<int>(tf.integer_or("worst_k", 3));
    suite.tasks.push_back(std::move(task));
  }
  return suite;
}

}  // namespace xling::eval
