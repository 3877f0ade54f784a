// Task items -> metric values (see scoring.hpp). Field names follow HF datasets.
#include "eval/scoring.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "metrics/bleu.hpp"
#include "metrics/chrf.hpp"
#include "metrics/classification.hpp"
#include "metrics/correlation.hpp"
#include "metrics/retrieval.hpp"
#include "metrics/seqeval.hpp"
#include "metrics/ter.hpp"
#include "xling/errors.hpp"

namespace xling::eval {
namespace {

[[noreturn]] void bad(const std::string& path, std::size_t i, const std::string& what) {
  throw InvalidArgument(fmt::format("{}:{}: {}", path, i + 1, what));
}

}  // namespace

const nlohmann::json& field(const nlohmann::json& row, std::initializer_list<const char*> keys, const std::string& path,
                            std::size_t i) {
  for (const char* k : keys) {
    auto it = row.find(k);
    if (it != row.end() && !it->is_null()) return *it;
  }
  std::string names;
  for (const char* k : keys) names += (names.empty() ? "'" : " or '") + std::string(k) + "'";
  bad(path, i, "missing field " + names);
}

std::string text_of(const nlohmann::json& v, const std::string& path, std::size_t i, const char* what) {
  if (!v.is_string()) bad(path, i, fmt::format("{} must be a string", what));
  return v.get<std::string>();
}

namespace {

double number_of(const nlohmann::json& v, const std::string& path, std::size_t i, const char* what) {
  if (!v.is_number()) bad(path, i, fmt::format("{} must be a number", what));
  return v.get<double>();
}

// Labels (strings or integers) mapped to dense ids shared by gold and predictions.
struct LabelIds {
  std::map<std::string, int64_t> ids;
  int64_t get(const nlohmann::json& v, const std::string& path, std::size_t i) {
    std::string key;
    if (v.is_string()) key = "s:" + v.get<std::string>();
    else if (v.is_number_integer() || v.is_boolean()) key = "i:" + v.dump();
    else bad(path, i, "a label must be a string or an integer");
    auto [it, inserted] = ids.emplace(key, static_cast<int64_t>(ids.size()));
    return it->second;
  }
};

double classification(const std::string& metric, const std::vector<int64_t>& y, const std::vector<int64_t>& p) {
  using metrics::Average;
  if (metric == "accuracy") return metrics::accuracy(y, p);
  if (metric == "f1_macro") return metrics::f1_score(y, p, Average::kMacro);
  if (metric == "f1_micro") return metrics::f1_score(y, p, Average::kMicro);
  if (metric == "f1_weighted" || metric == "f1") return metrics::f1_score(y, p, Average::kWeighted);
  if (metric == "precision_macro") return metrics::precision_score(y, p, Average::kMacro);
  if (metric == "recall_macro") return metrics::recall_score(y, p, Average::kMacro);
  if (metric == "mcc") return metrics::matthews_corrcoef(y, p);
  if (metric == "cohen_kappa") return metrics::cohen_kappa(y, p);
  throw InvalidArgument(fmt::format("metric '{}' does not apply to classification", metric));
}


std::vector<std::string> tags_of(const nlohmann::json& v, const TaskConfig& task, const std::string& path, std::size_t i) {
  if (!v.is_array()) bad(path, i, "tags must be a list");
  std::vector<std::string> out;
  for (const auto& t : v) {
    if (t.is_string()) {
      out.push_back(t.get<std::string>());
    } else if (t.is_number_integer()) {
      auto k = t.get<int64_t>();
      if (k < 0 || k >= static_cast<int64_t>(task.label_names.size())) {
        bad(path, i, fmt::format("tag id {} needs the task's label_names (it has {})", k, task.label_names.size()));
      }
      out.push_back(task.label_names[static_cast<std::size_t>(k)]);
    } else {
      bad(path, i, "a tag must be a string or an integer");
    }
  }
  return out;
}

}  // namespace

std::pair<std::string, int64_t> split_at_k(const std::string& metric) {
  auto at = metric.find('@');
  if (at == std::string::npos) return {metric, metrics::kAllDocuments};
  return {metric.substr(0, at), std::stoll(metric.substr(at + 1))};
}

Scored score_metric(const TaskConfig& task, const std::string& metric, const std::vector<nlohmann::json>& gold,
                    const std::vector<nlohmann::json>& pred, const std::string& gp, const std::string& pp) {
  const std::size_t n = gold.size();
  switch (task.type) {
    case TaskType::kClassification:
    case TaskType::kPairClassification: {
      LabelIds ids;
      std::vector<int64_t> y(n), p(n);
      for (std::size_t i = 0; i < n; ++i) {
        y[i] = ids.get(field(gold[i], {"label"}, gp, i), gp, i);
        p[i] = ids.get(field(pred[i], {"label", "prediction"}, pp, i), pp, i);
      }
      return {classification(metric, y, p), ""};
    }
    case TaskType::kBitextMining: {
      std::vector<int64_t> y(n), p(n);
      for (std::size_t i = 0; i < n; ++i) {
        y[i] = static_cast<int64_t>(i);
        const auto& v = field(pred[i], {"prediction", "index"}, pp, i);
        if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= static_cast<int64_t>(n)) {
          bad(pp, i, fmt::format("prediction must be a target index in [0, {})", n));
        }
        p[i] = v.get<int64_t>();
      }
      if (metric == "accuracy") return {metrics::accuracy(y, p), ""};
      return {metrics::f1_score(y, p, metrics::Average::kWeighted), ""};
    }
    case TaskType::kSts: {
      std::vector<double> y(n), p(n);
      for (std::size_t i = 0; i < n; ++i) {
        y[i] = number_of(field(gold[i], {"score", "label"}, gp, i), gp, i, "score");
        p[i] = number_of(field(pred[i], {"score", "prediction"}, pp, i), pp, i, "score");
      }
      if (metric == "spearman") return {metrics::spearman(y, p), ""};
      if (metric == "pearson") return {metrics::pearson(y, p), ""};
      return {metrics::kendall_tau_b(y, p), ""};
    }
    case TaskType::kTranslation: {
      std::vector<std::string> hyps(n);
      std::vector<std::vector<std::string>> refs(1, std::vector<std::string>(n));
      for (std::size_t i = 0; i < n; ++i) {
        refs[0][i] = text_of(field(gold[i], {"target", "reference"}, gp, i), gp, i, "target");
        hyps[i] = text_of(field(pred[i], {"translation", "prediction"}, pp, i), pp, i, "translation");
      }
      if (metric == "bleu") {
        auto s = metrics::corpus_bleu(hyps, refs, metrics::BleuOptions{});
        return {s.score, s.signature};
      }
      if (metric == "ter") {
        auto s = metrics::corpus_ter(hyps, refs, metrics::TerOptions{});
        return {s.score, s.signature};
      }
      metrics::ChrfOptions o;
      o.word_order = metric == "chrf++" ? 2 : 0;
      auto s = metrics::corpus_chrf(hyps, refs, o);
      return {s.score, s.signature};
    }
    case TaskType::kRetrieval:
    case TaskType::kReranking: {
      auto [name, k] = split_at_k(metric);
      double sum = 0;
      for (std::size_t i = 0; i < n; ++i) {
        if (gold[i].contains("qrels")) {  // corpus retrieval (MTEB layout, eval/mteb.hpp): a ranked list of ids
          std::map<std::string, double> qrels;
          for (const auto& [doc, r] : gold[i]["qrels"].items()) qrels[doc] = number_of(r, gp, i, "relevance");
          const auto& ids = field(pred[i], {"ids"}, pp, i);
          if (!ids.is_array()) bad(pp, i, "'ids' must be the ranked list of document ids");
          std::vector<std::string> ranked;
          for (const auto& id : ids) ranked.push_back(text_of(id, pp, i, "a document id"));
          sum += metrics::ranked_list_metric(name, k == metrics::kAllDocuments ? static_cast<int64_t>(ranked.size()) + 1 : k,
                                             ranked, qrels);
          continue;
        }
        std::vector<double> rel;
        if (gold[i].contains("relevance")) {
          for (const auto& r : gold[i]["relevance"]) rel.push_back(number_of(r, gp, i, "relevance"));
        } else {
          const auto& pos = field(gold[i], {"positives", "positive"}, gp, i);
          std::size_t npos = pos.is_array() ? pos.size() : 1;
          std::size_t nneg = gold[i].contains("negatives") && gold[i]["negatives"].is_array() ? gold[i]["negatives"].size() : 0;
          rel.assign(npos, 1.0);
          rel.resize(npos + nneg, 0.0);
        }
        const auto& sc = field(pred[i], {"scores"}, pp, i);
        if (!sc.is_array() || sc.size() != rel.size()) {
          bad(pp, i, fmt::format("'scores' must hold one score per candidate ({})", rel.size()));
        }
        std::vector<double> scores;
        for (const auto& s : sc) scores.push_back(number_of(s, pp, i, "score"));
        if (name == "ndcg") sum += metrics::retrieval_ndcg(scores, rel, k);
        else if (name == "mrr") sum += metrics::retrieval_reciprocal_rank(scores, rel, k);
        else if (name == "recall") sum += metrics::retrieval_recall(scores, rel, k);
        else if (name == "map") sum += metrics::retrieval_average_precision(scores, rel, k);
        else sum += metrics::retrieval_precision(scores, rel, k);
      }
      return {n ? sum / static_cast<double>(n) : 0.0, ""};
    }
    case TaskType::kTokenClassification: {
      std::vector<std::vector<std::string>> y(n), p(n);
      for (std::size_t i = 0; i < n; ++i) {
        y[i] = tags_of(field(gold[i], {"ner_tags", "tags", "labels"}, gp, i), task, gp, i);
        p[i] = tags_of(field(pred[i], {"ner_tags", "tags", "prediction"}, pp, i), task, pp, i);
        if (y[i].size() != p[i].size()) {
          bad(pp, i, fmt::format("{} predicted tags for {} tokens", p[i].size(), y[i].size()));
        }
      }
      metrics::SeqevalOptions o;
      o.mode = metric == "entity_f1_strict" ? metrics::SeqevalMode::kStrictIob2 : metrics::SeqevalMode::kDefault;
      auto report = metrics::seqeval_report(y, p, o);
      if (metric == "entity_precision") return {report.micro.precision, ""};
      if (metric == "entity_recall") return {report.micro.recall, ""};
      return {report.micro.f1, ""};
    }
  }
  throw InvalidArgument(fmt::format("metric '{}' is not supported", metric));
}

std::string prediction_key(const TaskConfig& task, const nlohmann::json& pred) {
  for (const char* k : {"label", "prediction", "translation", "score", "ner_tags", "tags", "scores", "index"}) {
    auto it = pred.find(k);
    if (it != pred.end()) return it->dump();
  }
  return pred.dump();
}

}  // namespace xling::eval
