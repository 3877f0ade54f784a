// JSONL training rows (see data.hpp).
#include "train/data.hpp"

#include <algorithm>
#include <fstream>
#include <functional>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/json.hpp"
#include "core/utf8.hpp"
#include "tasks/batching.hpp"
#include "xling/errors.hpp"

namespace xling::train {
namespace {

using nlohmann::json;

// A label cell of a TSV/CSV file as JSON: an integer or a float when the whole cell is one,
// else the string (label names). Text cells always stay strings.
json cell_value(const std::string& key, const std::string& cell) {
  if (key == "label" || key == "labels" || key == "score") {
    if (!cell.empty()) {
      std::size_t used = 0;
      try {
        const long long i = std::stoll(cell, &used);
        if (used == cell.size()) return i;
      } catch (const std::exception&) {
      }
      try {
        const double d = std::stod(cell, &used);
        if (used == cell.size()) return d;
      } catch (const std::exception&) {
      }
    }
  }
  return cell;
}

// Splits one CSV record (RFC 4180: quoted fields, "" inside quotes) that may continue over
// several physical lines; `more` reads the next line. Throws on an unterminated quote.
std::vector<std::string> csv_record(std::string line, const std::function<bool(std::string&)>& more,
                                    const std::string& where) {
  std::vector<std::string> cells(1);
  bool quoted = false;
  std::size_t i = 0;
  while (true) {
    if (i == line.size()) {
      if (!quoted) break;
      std::string next;  // a quoted field goes on: the line break is part of it
      if (!more(next)) throw InvalidArgument(fmt::format("{}: a quoted field is not closed", where));
      cells.back() += '\n';
      line = std::move(next);
      i = 0;
      continue;
    }
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cells.back() += '"';
        i += 2;
        continue;
      }
      if (c == '"') quoted = false;
      else cells.back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      cells.emplace_back();
    } else {
      cells.back() += c;
    }
    ++i;
  }
  return cells;
}

// Rows of a TSV (tab-separated, no quoting) or CSV (RFC 4180) file with a header line, as JSON
// objects keyed by the header, so that every reader below sees one format.
template <typename Fn>
void for_each_delimited_row(const std::string& path, bool tsv, Fn fn) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(fmt::format("{}: cannot open", path));
  std::size_t n = 0, rows = 0;
  auto next_line = [&](std::string& out) {
    if (!std::getline(in, out)) return false;
    ++n;
    if (!out.empty() && out.back() == '\r') out.pop_back();
    if (auto bad = core::find_invalid_utf8(out); bad != std::string::npos) {
      throw InvalidArgument(fmt::format("{}:{}: invalid UTF-8 at byte {}", path, n, bad));
    }
    return true;
  };
  auto split = [&](const std::string& line, const std::string& where) {
    if (!tsv) return csv_record(line, next_line, where);
    std::vector<std::string> cells;
    std::size_t start = 0;
    for (std::size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1) {
      cells.push_back(line.substr(start, tab - start));
    }
    cells.push_back(line.substr(start));
    return cells;
  };
  std::string line;
  std::vector<std::string> header;
  while (header.empty() && next_line(line)) {
    if (line.find_first_not_of(" \t") != std::string::npos) header = split(line, fmt::format("{}:{}", path, n));
  }
  if (header.empty()) throw InvalidArgument(fmt::format("{}: no rows (the file is empty)", path));
  while (next_line(line)) {
    if (line.empty()) continue;
    const std::size_t first = n;
    const std::string where = fmt::format("{}:{}", path, first);
    auto cells = split(line, where);
    if (cells.size() != header.size()) {
      throw InvalidArgument(fmt::format("{}: {} fields, the header has {}", where, cells.size(), header.size()));
    }
    json row = json::object();
    for (std::size_t i = 0; i < header.size(); ++i) row[header[i]] = cell_value(header[i], cells[i]);
    ++rows;
    fn(first, row, where);
  }
  if (rows == 0) throw InvalidArgument(fmt::format("{}: no rows after the header", path));
}

// Calls fn(line_number, object, "file:line") for every row: JSONL (one object per non-blank
// line), or .tsv/.csv files with a header line.
template <typename Fn>
void for_each_row(const std::string& path, Fn fn) {
  const auto dot = path.rfind('.');
  const std::string ext = dot == std::string::npos ? "" : path.substr(dot);
  if (ext == ".tsv" || ext == ".csv") return for_each_delimited_row(path, ext == ".tsv", fn);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(fmt::format("{}: cannot open", path));
  std::string line;
  std::size_t n = 0, rows = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    const std::string where = fmt::format("{}:{}", path, n);
    json row = core::parse_json(line, where);
    if (!row.is_object()) throw InvalidArgument(fmt::format("{}: expected a JSON object per line", where));
    ++rows;
    fn(n, row, where);
  }
  if (rows == 0) throw InvalidArgument(fmt::format("{}: no rows (the file is empty)", path));
}

const json* field(const json& row, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    auto it = row.find(n);
    if (it != row.end() && !it->is_null()) return &*it;
  }
  return nullptr;
}

const json* label_field(const json& row) { return field(row, {"label", "labels", "ner_tags", "tags", "score"}); }

std::pair<const json*, const json*> text_fields(const json& row) {
  if (const json* a = field(row, {"sentence1", "premise", "question", "query", "text_a"})) {
    return {a, field(row, {"sentence2", "hypothesis", "passage", "document", "text_b"})};
  }
  return {field(row, {"text", "sentence", "content"}), field(row, {"text_pair"})};
}

std::vector<int64_t> int_list(const json& v, const std::string& where, const char* key) {
  if (!v.is_array()) throw InvalidArgument(fmt::format("{}: '{}' must be a list of integers", where, key));
  std::vector<int64_t> out;
  out.reserve(v.size());
  for (const auto& x : v) {
    if (!x.is_number_integer()) throw InvalidArgument(fmt::format("{}: '{}' must be a list of integers", where, key));
    out.push_back(x.get<int64_t>());
  }
  return out;
}

// The class id of one label cell: a name in `labels`, or an integer in [0, labels).
int64_t label_id(const LabelSet& labels, const json& v, const std::string& where) {
  const auto num = static_cast<int64_t>(labels.names.size());
  if (v.is_string()) {
    auto id = labels.id(v.get<std::string>());
    if (!id) {
      throw InvalidArgument(fmt::format("{}: unknown label '{}' (the model's labels: {})", where, v.get<std::string>(),
                                        fmt::join(labels.names, ", ")));
    }
    return *id;
  }
  if (v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() < num) return v.get<int64_t>();
  throw InvalidArgument(fmt::format("{}: label {} is not one of the {} labels", where, v.dump(), num));
}

// Token classification rows given as words ({"tokens": [...], "ner_tags": [...]}), tokenized
// and aligned as transformers' examples/pytorch/token-classification/run_ner.py does:
// tokenizer(words, is_split_into_words=True); the first token of each word gets the word's label,
// the others -100 (or, with label_all_tokens, the label with B-X turned into I-X when the labels
// have I-X), special tokens -100.
class WordRows {
 public:
  WordRows(const tokenize::Tokenizer* tok, const LabelSet& labels, const ReadOptions& opt)
      : tok_(tok), labels_(labels), opt_(opt) {
    for (std::size_t i = 0; i < labels.names.size(); ++i) {
      const std::string& name = labels.names[i];
      int64_t to = static_cast<int64_t>(i);
      if (name.rfind("B-", 0) == 0) {
        std::string inside = name;  // Python's str.replace: every "B-", not only the prefix
        for (std::size_t at = 0; (at = inside.find("B-", at)) != std::string::npos; at += 2) inside[at] = 'I';
        if (auto id = labels.id(inside)) to = *id;
      }
      b_to_i_.push_back(to);
    }
  }

  static const json* words_field(const json& row) { return field(row, {"tokens", "words"}); }

  Example read(const json& row, const std::string& where) const {
    const json* words = words_field(row);
    if (!words) {
      throw InvalidArgument(fmt::format("{}: token-cls rows need words ('tokens' + 'ner_tags') or input_ids + labels "
                                        "per token", where));
    }
    if (!tok_) throw InvalidArgument(fmt::format("{}: a row of words needs the model's tokenizer", where));
    const char* key = row.contains("tokens") && !row["tokens"].is_null() ? "tokens" : "words";
    if (!words->is_array()) throw InvalidArgument(fmt::format("{}: '{}' must be a list of words", where, key));
    std::vector<std::string> ws;
    ws.reserve(words->size());
    for (std::size_t i = 0; i < words->size(); ++i) {
      const json& w = (*words)[i];
      if (!w.is_string()) {
        throw InvalidArgument(fmt::format("{}: word {} of '{}' is {}, not a string", where, i, key, w.dump()));
      }
      ws.push_back(w.get<std::string>());
    }
    const json* l = label_field(row);
    if (!l || !l->is_array()) {
      throw InvalidArgument(fmt::format("{}: a row of words needs a list of labels ('ner_tags', 'tags' or 'labels'), "
                                        "one per word", where));
    }
    if (l->size() != ws.size()) {
      throw InvalidArgument(fmt::format("{}: {} words but {} labels", where, ws.size(), l->size()));
    }
    std::vector<int64_t> word_labels;
    word_labels.reserve(ws.size());
    for (const auto& v : *l) word_labels.push_back(label_id(labels_, v, where));

    auto enc = tok_->encode_words(ws, /*add_special=*/true);
    if (enc.encoding.size() > opt_.max_length) {  // truncated as HF does: the words' tokens, specials kept
      const tokenize::TruncationOptions trunc{opt_.max_length, tokenize::Side::kRight};
      enc = tok_->encode_words(ws, /*add_special=*/true, trunc);
      if (opt_.truncated) ++*opt_.truncated;
    }
    Example ex;
    ex.input_ids.assign(enc.encoding.ids.begin(), enc.encoding.ids.end());
    ex.token_type_ids.assign(enc.encoding.type_ids.begin(), enc.encoding.type_ids.end());
    int previous = -1;
    for (int w : enc.word_ids) {
      if (w < 0) {
        ex.labels.push_back(-100);
      } else {
        const int64_t label = word_labels[static_cast<std::size_t>(w)];
        if (w != previous) ex.labels.push_back(label);
        else ex.labels.push_back(opt_.label_all_tokens ? b_to_i_[static_cast<std::size_t>(label)] : -100);
      }
      previous = w;
    }
    return ex;
  }

 private:
  const tokenize::Tokenizer* tok_;
  const LabelSet& labels_;
  const ReadOptions& opt_;
  std::vector<int64_t> b_to_i_;  // run_ner.py's b_to_i_label
};

}  // namespace

Task parse_task(const std::string& name) {
  if (name == "seq-cls") return Task::kSeqCls;
  if (name == "pair-cls") return Task::kPairCls;
  if (name == "token-cls") return Task::kTokenCls;
  if (name == "bi-encoder") return Task::kBiEncoder;
  if (name == "cross-encoder") return Task::kCrossEncoder;
  if (name == "mlm") return Task::kMlm;
  if (name == "seq2seq") return Task::kSeq2Seq;
  if (name == "causal-lm") return Task::kCausalLm;
  throw InvalidArgument(fmt::format(
      "task '{}' is not one of seq-cls, pair-cls, token-cls, bi-encoder, cross-encoder, mlm, seq2seq, causal-lm", name));
}

const char* task_name(Task t) {
  switch (t) {
    case Task::kSeqCls: return "seq-cls";
    case Task::kPairCls: return "pair-cls";
    case Task::kTokenCls: return "token-cls";
    case Task::kBiEncoder: return "bi-encoder";
    case Task::kCrossEncoder: return "cross-encoder";
    case Task::kMlm: return "mlm";
    case Task::kSeq2Seq: return "seq2seq";
    case Task::kCausalLm: return "causal-lm";
  }
  return "?";
}

void for_each_json_row(const std::string& path,
                       const std::function<void(std::size_t, const nlohmann::json&, const std::string&)>& fn) {
  for_each_row(path, fn);
}

std::optional<int64_t> LabelSet::id(const std::string& name) const {
  auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end()) return std::nullopt;
  return static_cast<int64_t>(it - names.begin());
}

LabelSet scan_labels(const std::string& path, Task task, const std::vector<std::string>& fallback_names) {
  std::set<std::string> strings;
  int64_t max_int = -1;
  bool any_float = false, any_list = false, any_scalar = false;
  for_each_row(path, [&](std::size_t, const json& row, const std::string& where) {
    const json* l = label_field(row);
    if (!l) throw InvalidArgument(fmt::format("{}: no label (expected a 'label' field)", where));
    auto take = [&](const json& v) {
      if (v.is_string()) strings.insert(v.get<std::string>());
      else if (v.is_number_integer()) max_int = std::max(max_int, v.get<int64_t>());
      else if (v.is_number_float()) any_float = true;
      else throw InvalidArgument(fmt::format("{}: label {} is not a name or a number", where, v.dump()));
    };
    if (l->is_array()) {
      any_list = true;
      for (const auto& v : *l) take(v);
    } else {
      any_scalar = true;
      take(*l);
    }
  });
  LabelSet s;
  if (task == Task::kTokenCls) {
    if (any_scalar) throw InvalidArgument(fmt::format("{}: token-cls rows need a list of labels per row", path));
  } else if (any_list && any_scalar) {
    throw InvalidArgument(fmt::format("{}: labels mix lists (multi-label) and single labels", path));
  } else if (any_list) {
    s.kind = LabelKind::kMulti;
  } else if (any_float) {
    if (!strings.empty()) throw InvalidArgument(fmt::format("{}: labels mix names and numbers", path));
    s.kind = LabelKind::kRegression;
    s.names = {"LABEL_0"};
    return s;
  }
  if (!strings.empty() && max_int >= 0) throw InvalidArgument(fmt::format("{}: labels mix names and integers", path));
  if (!strings.empty()) {
    // Names the model already knows keep its order; the rest follow, sorted.
    for (const auto& n : fallback_names) {
      if (strings.count(n)) s.names.push_back(n);
    }
    for (const auto& n : strings) {
      if (std::find(s.names.begin(), s.names.end(), n) == s.names.end()) s.names.push_back(n);
    }
    if (s.names.size() == strings.size() && !fallback_names.empty() &&
        std::all_of(strings.begin(), strings.end(), [&](const std::string& n) {
          return std::find(fallback_names.begin(), fallback_names.end(), n) != fallback_names.end();
        })) {
      s.names = fallback_names;  // keep the model's head as it is
    }
  } else {
    const auto n = std::max<int64_t>(max_int + 1, static_cast<int64_t>(fallback_names.size()));
    for (int64_t i = 0; i < n; ++i) {
      s.names.push_back(i < static_cast<int64_t>(fallback_names.size()) ? fallback_names[static_cast<std::size_t>(i)]
                                                                           : fmt::format("LABEL_{}", i));
    }
  }
  return s;
}

std::vector<Example> read_examples(const std::string& path, const tokenize::Tokenizer* tok, const LabelSet& labels,
                                   const ReadOptions& opt) {
  std::vector<Example> out;
  const auto num = static_cast<int64_t>(labels.names.size());
  const WordRows word_rows(tok, labels, opt);
  for_each_row(path, [&](std::size_t line, const json& row, const std::string& where) {
    Example ex;
    ex.line = line;
    if (const json* ids = field(row, {"input_ids"})) {
      ex.input_ids = int_list(*ids, where, "input_ids");
      std::vector<int64_t> mask(ex.input_ids.size(), 1), types(ex.input_ids.size(), 0);
      if (const json* m = field(row, {"attention_mask"})) mask = int_list(*m, where, "attention_mask");
      if (const json* t = field(row, {"token_type_ids"})) types = int_list(*t, where, "token_type_ids");
      if (mask.size() != ex.input_ids.size() || types.size() != ex.input_ids.size()) {
        throw InvalidArgument(fmt::format("{}: attention_mask/token_type_ids must have input_ids' length {}", where,
                                          ex.input_ids.size()));
      }
      std::vector<int64_t> kept_ids, kept_types;
      std::vector<std::size_t> kept_pos;
      for (std::size_t i = 0; i < mask.size(); ++i) {
        if (mask[i] == 0) continue;
        kept_ids.push_back(ex.input_ids[i]);
        kept_types.push_back(types[i]);
        kept_pos.push_back(i);
      }
      ex.input_ids = std::move(kept_ids);
      ex.token_type_ids = std::move(kept_types);
      if (opt.task == Task::kTokenCls) {
        const json* l = label_field(row);
        if (!l || !l->is_array()) throw InvalidArgument(fmt::format("{}: token-cls rows need a 'labels' list", where));
        auto all = int_list(*l, where, "labels");
        if (all.size() != mask.size()) {
          throw InvalidArgument(fmt::format("{}: {} labels for {} input_ids", where, all.size(), mask.size()));
        }
        for (auto p : kept_pos) ex.labels.push_back(all[p]);
        for (auto v : ex.labels) {
          if (v != -100 && (v < 0 || v >= num)) {
            throw InvalidArgument(fmt::format("{}: label {} is outside [0, {})", where, v, num));
          }
        }
        out.push_back(std::move(ex));
        return;
      }
    } else {
      if (opt.task == Task::kTokenCls) {
        Example words = word_rows.read(row, where);
        words.line = line;
        out.push_back(std::move(words));
        return;
      }
      if (!tok) throw InvalidArgument(fmt::format("{}: a text row needs the model's tokenizer", where));
      auto [a, b] = text_fields(row);
      if (!a || !a->is_string()) {
        throw InvalidArgument(fmt::format("{}: no text (expected 'text', 'sentence', 'sentence1'/'sentence2', "
                                          "'premise'/'hypothesis' or 'input_ids')", where));
      }
      if (opt.task == Task::kPairCls && (!b || !b->is_string())) {
        throw InvalidArgument(fmt::format("{}: pair-cls needs a second text ('text_pair', 'sentence2', 'hypothesis')", where));
      }
      const std::string text = a->get<std::string>();
      std::string pair;
      if (b && b->is_string()) pair = b->get<std::string>();
      auto enc = tasks::encode_truncated(*tok, text, b && b->is_string() ? &pair : nullptr, opt.max_length, opt.truncated);
      ex.input_ids.assign(enc.ids.begin(), enc.ids.end());
      ex.token_type_ids.assign(enc.type_ids.begin(), enc.type_ids.end());
    }
    if (ex.input_ids.size() > opt.max_length) {
      throw InvalidArgument(fmt::format("{}: {} input_ids, more than the model takes ({})", where, ex.input_ids.size(),
                                        opt.max_length));
    }
    const json* l = label_field(row);
    if (!l) throw InvalidArgument(fmt::format("{}: no label", where));
    auto class_id = [&](const json& v) { return label_id(labels, v, where); };
    switch (labels.kind) {
      case LabelKind::kRegression:
        if (!l->is_number()) throw InvalidArgument(fmt::format("{}: regression label {} is not a number", where, l->dump()));
        ex.targets = {l->get<float>()};
        break;
      case LabelKind::kMulti:
        if (!l->is_array()) throw InvalidArgument(fmt::format("{}: multi-label rows need a list of labels", where));
        ex.targets.assign(static_cast<std::size_t>(num), 0.0f);
        for (const auto& v : *l) ex.targets[static_cast<std::size_t>(class_id(v))] = 1.0f;
        break;
      case LabelKind::kSingle: ex.labels = {class_id(*l)}; break;
    }
    out.push_back(std::move(ex));
  });
  return out;
}

}  // namespace xling::train
