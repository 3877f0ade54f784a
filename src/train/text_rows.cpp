// Text rows for bi-/cross-encoders (see text_rows.hpp).
#include "train/text_rows.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tasks/batching.hpp"
#include "xling/errors.hpp"

namespace xling::train {
namespace {

using nlohmann::json;

const json* first_field(const json& row, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    auto it = row.find(n);
    if (it != row.end() && !it->is_null()) return &*it;
  }
  return nullptr;
}

std::string text_of(const json& v, const std::string& where, const char* what) {
  if (!v.is_string()) throw InvalidArgument(fmt::format("{}: the {} must be a text, got {}", where, what, v.dump()));
  return v.get<std::string>();
}

TokenSeq to_seq(const tokenize::Encoding& e) {
  TokenSeq s;
  s.ids.assign(e.ids.begin(), e.ids.end());
  s.types.assign(e.type_ids.begin(), e.type_ids.end());
  return s;
}

}  // namespace

TextRows read_text_rows(const std::string& path, const tokenize::Tokenizer& tok, Task task, std::size_t max_length,
                        std::size_t* truncated) {
  TextRows out;
  bool first = true;
  for_each_json_row(path, [&](std::size_t line, const json& row, const std::string& where) {
    const json* a = first_field(row, {"anchor", "query", "sentence1", "sentence", "text", "premise", "question"});
    const json* p = first_field(row, {"positive", "passage", "document", "sentence2", "text_pair", "hypothesis", "answer"});
    const json* s = first_field(row, {"score", "label"});
    const json* n = first_field(row, {"negatives", "negative"});
    if (!a) throw InvalidArgument(fmt::format("{}: no anchor/query text (fields: anchor, query, sentence1, text, ...)", where));
    if (!p) throw InvalidArgument(fmt::format("{}: no positive/passage text (fields: positive, passage, sentence2, ...)", where));
    TextTuple t;
    t.line = line;
    const std::string anchor = text_of(*a, where, "anchor");
    std::vector<std::string> docs{text_of(*p, where, "positive")};
    if (n) {
      if (n->is_array()) {
        for (const auto& v : *n) docs.push_back(text_of(v, where, "negative"));
      } else {
        docs.push_back(text_of(*n, where, "negative"));
      }
    }
    if (s) {
      if (!s->is_number()) throw InvalidArgument(fmt::format("{}: score {} is not a number", where, s->dump()));
      if (n) throw InvalidArgument(fmt::format("{}: a row has either a score or negatives, not both", where));
      t.score = s->get<float>();
      t.has_score = true;
    }
    const TupleKind kind = s ? TupleKind::kScored : TupleKind::kPairs;
    if (first) out.kind = kind;
    else if (kind != out.kind) {
      throw InvalidArgument(fmt::format("{}: rows mix scored pairs and (anchor, positive[, negatives]) rows", where));
    }
    first = false;
    if (task == Task::kCrossEncoder) {
      for (const auto& d : docs) t.seqs.push_back(to_seq(tasks::encode_truncated(tok, anchor, &d, max_length, truncated)));
    } else {
      t.seqs.push_back(to_seq(tasks::encode_truncated(tok, anchor, nullptr, max_length, truncated)));
      for (const auto& d : docs) t.seqs.push_back(to_seq(tasks::encode_truncated(tok, d, nullptr, max_length, truncated)));
    }
    out.negatives = std::max(out.negatives, docs.size() - 1);
    out.rows.push_back(std::move(t));
  });
  return out;
}

}  // namespace xling::train
