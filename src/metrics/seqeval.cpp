// seqeval-compatible entity extraction and scoring (see seqeval.hpp).
#include "metrics/seqeval.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "xling/errors.hpp"

namespace xling::metrics {
namespace {

// Bytes of the UTF-8 character starting `s` (Python's label[0] is a code point).
std::size_t first_char_bytes(const std::string& s) {
  unsigned char c = static_cast<unsigned char>(s[0]);
  std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
  return std::min(n, s.size());
}

// ---- default mode: seqeval.metrics.sequence_labeling.get_entities -------------------------

struct Chunk {
  std::string tag;   // label[0]
  std::string type;  // label[1:].split('-', 1)[-1] or '_'
};

Chunk split_label(const std::string& label) {
  std::size_t n = first_char_bytes(label);
  std::string rest = label.substr(n);
  std::size_t dash = rest.find('-');
  std::string type = dash == std::string::npos ? rest : rest.substr(dash + 1);
  return {label.substr(0, n), type.empty() ? "_" : type};
}

bool end_of_chunk(const Chunk& prev, const Chunk& cur) {
  const std::string &p = prev.tag, &t = cur.tag;
  if (p == "E" || p == "S") return true;
  if ((p == "B" || p == "I") && (t == "B" || t == "S" || t == "O")) return true;
  return p != "O" && p != "." && prev.type != cur.type;
}

bool start_of_chunk(const Chunk& prev, const Chunk& cur) {
  const std::string &p = prev.tag, &t = cur.tag;
  if (t == "B" || t == "S") return true;
  if ((p == "E" || p == "S" || p == "O") && (t == "E" || t == "I")) return true;
  return t != "O" && t != "." && prev.type != cur.type;
}

// A default-mode entity as seqeval keeps it: type and inclusive offsets in the stream of
// all sentences joined by "O".
using StreamEntity = std::tuple<std::string, int64_t, int64_t>;

std::vector<StreamEntity> default_entities(std::span<const TagSequence> sentences, const char* side) {
  std::vector<StreamEntity> out;
  Chunk prev{"O", ""};  // seqeval starts with prev_type '' (not '_')
  int64_t begin = 0, pos = 0;
  auto step = [&](const Chunk& cur) {
    if (end_of_chunk(prev, cur)) out.emplace_back(prev.type, begin, pos - 1);
    if (start_of_chunk(prev, cur)) begin = pos;
    prev = cur;
    ++pos;
  };
  const Chunk outside = split_label("O");
  for (std::size_t s = 0; s < sentences.size(); ++s) {
    for (std::size_t i = 0; i < sentences[s].size(); ++i) {
      const std::string& label = sentences[s][i];
      if (label.empty()) {
        throw InvalidArgument(fmt::format("seqeval: {} sentence {} token {}: empty label", side, s, i));
      }
      step(split_label(label));
    }
    step(outside);  // the "O" seqeval puts after every sentence
  }
  step(outside);  // get_entities' final sentinel
  return out;
}

// ---- strict mode: seqeval.scheme.Tokens with IOB2 ----------------------------------------

enum class Prefix { kI, kO, kB };

struct Token {
  Prefix prefix;
  std::string tag;  // label[1:].strip('-') or '_'
};

Token parse_iob2(const std::string& label, std::size_t sentence, std::size_t index, const char* side) {
  if (label.empty()) {
    throw InvalidArgument(fmt::format("seqeval: {} sentence {} token {}: empty label", side, sentence, index));
  }
  Token t;
  switch (label[0]) {
    case 'I': t.prefix = Prefix::kI; break;
    case 'O': t.prefix = Prefix::kO; break;
    case 'B': t.prefix = Prefix::kB; break;
    default:
      throw InvalidArgument(fmt::format(
          "seqeval: {} sentence {} token {}: label '{}' is not IOB2 (strict mode allows B-, I- and O prefixes)", side,
          sentence, index, label));
  }
  std::size_t first = 1, last = label.size();
  while (first < last && label[first] == '-') ++first;
  while (last > first && label[last - 1] == '-') --last;
  t.tag = first < last ? label.substr(first, last - first) : "_";
  return t;
}

bool is_inside(const Token& prev, const Token& cur) {
  return (prev.prefix == Prefix::kB || prev.prefix == Prefix::kI) && cur.prefix == Prefix::kI && prev.tag == cur.tag;
}

bool is_end(const Token& prev, const Token& cur) {
  if (prev.prefix == Prefix::kI || prev.prefix == Prefix::kB) {
    if (cur.prefix == Prefix::kO || cur.prefix == Prefix::kB) return true;
    if (cur.prefix == Prefix::kI && prev.tag != cur.tag) return true;
  }
  return false;
}

std::vector<Entity> strict_entities(std::span<const TagSequence> sentences, const char* side) {
  std::vector<Entity> out;
  for (std::size_t s = 0; s < sentences.size(); ++s) {
    std::vector<Token> tokens;
    tokens.reserve(sentences[s].size() + 1);
    for (std::size_t i = 0; i < sentences[s].size(); ++i) tokens.push_back(parse_iob2(sentences[s][i], s, i, side));
    tokens.push_back({Prefix::kO, "_"});  // seqeval's extended_tokens end with an outside token
    std::size_t i = 0;
    while (i < tokens.size()) {
      if (tokens[i].prefix == Prefix::kB) {
        std::size_t end = i + 1;
        while (end < tokens.size() && is_inside(tokens[end - 1], tokens[end])) ++end;
        if (end < tokens.size() && is_end(tokens[end - 1], tokens[end])) {
          out.push_back({tokens[i].tag, static_cast<int64_t>(s), static_cast<int64_t>(i), static_cast<int64_t>(end)});
        }
        i = end;
      } else {
        ++i;
      }
    }
  }
  return out;
}

void check_shapes(std::span<const TagSequence> y_true, std::span<const TagSequence> y_pred) {
  if (y_true.size() != y_pred.size()) {
    throw InvalidArgument(
        fmt::format("seqeval: y_true has {} sentences but y_pred has {}", y_true.size(), y_pred.size()));
  }
  for (std::size_t s = 0; s < y_true.size(); ++s) {
    if (y_true[s].size() != y_pred[s].size()) {
      throw InvalidArgument(fmt::format("seqeval: sentence {} has {} true labels but {} predicted labels", s,
                                        y_true[s].size(), y_pred[s].size()));
    }
  }
}

// Entities keyed so that equal keys mean the same entity (type, then position).
using EntityKey = std::tuple<std::string, int64_t, int64_t, int64_t>;

std::set<EntityKey> entity_keys(std::span<const TagSequence> sentences, SeqevalMode mode, const char* side) {
  std::set<EntityKey> keys;
  if (mode == SeqevalMode::kDefault) {
    for (auto& [type, start, end] : default_entities(sentences, side)) keys.emplace(type, 0, start, end);
  } else {
    for (Entity& e : strict_entities(sentences, side)) keys.emplace(e.type, e.sentence, e.start, e.end);
  }
  return keys;
}

double divide(double numerator, double denominator, double zero_division) {
  return denominator == 0.0 ? zero_division : numerator / denominator;
}

EntityScores scores_from_counts(double tp, double pred, double truth, double zero_division) {
  EntityScores s;
  s.precision = divide(tp, pred, zero_division);
  s.recall = divide(tp, truth, zero_division);
  double denom = s.precision + s.recall;
  s.f1 = denom == 0.0 ? 0.0 : 2.0 * s.precision * s.recall / denom;
  s.support = static_cast<int64_t>(truth);
  return s;
}

}  // namespace

std::vector<Entity> extract_entities(std::span<const TagSequence> sentences, SeqevalMode mode) {
  if (mode == SeqevalMode::kStrictIob2) return strict_entities(sentences, "input");
  // Map stream offsets back to (sentence, token): sentence s starts at offsets[s].
  std::vector<int64_t> offsets(sentences.size() + 1, 0);
  for (std::size_t s = 0; s < sentences.size(); ++s) {
    offsets[s + 1] = offsets[s] + static_cast<int64_t>(sentences[s].size()) + 1;
  }
  std::vector<Entity> out;
  for (auto& [type, start, end] : default_entities(sentences, "input")) {
    std::size_t s = static_cast<std::size_t>(std::upper_bound(offsets.begin(), offsets.end(), start) - offsets.begin()) - 1;
    s = std::min(s, sentences.empty() ? 0 : sentences.size() - 1);
    int64_t local = start - offsets[s];
    out.push_back({type, static_cast<int64_t>(s), local, local + (end - start) + 1});
  }
  return out;
}

SeqevalReport seqeval_report(std::span<const TagSequence> y_true, std::span<const TagSequence> y_pred,
                             const SeqevalOptions& options) {
  check_shapes(y_true, y_pred);
  if (options.zero_division != 0.0 && options.zero_division != 1.0) {
    throw InvalidArgument(fmt::format("seqeval: zero_division must be 0 or 1, found {}", options.zero_division));
  }
  const double zd = options.zero_division;
  std::set<EntityKey> truth = entity_keys(y_true, options.mode, "y_true");
  std::set<EntityKey> pred = entity_keys(y_pred, options.mode, "y_pred");

  struct Counts {
    double tp = 0, pred = 0, truth = 0;
  };
  std::map<std::string, Counts> by_type;  // sorted like Python's sorted()
  for (const EntityKey& e : truth) {
    by_type[std::get<0>(e)].truth += 1;
    if (pred.count(e)) by_type[std::get<0>(e)].tp += 1;
  }
  for (const EntityKey& e : pred) by_type[std::get<0>(e)].pred += 1;

  SeqevalReport report;
  Counts total;
  for (const auto& [type, c] : by_type) {
    report.per_type.push_back({type, scores_from_counts(c.tp, c.pred, c.truth, zd)});
    total.tp += c.tp;
    total.pred += c.pred;
    total.truth += c.truth;
  }
  report.micro = scores_from_counts(total.tp, total.pred, total.truth, zd);

  const int64_t support = static_cast<int64_t>(total.truth);
  if (report.per_type.empty()) {
    report.macro = report.micro;
  } else {
    // numpy's mean and average: sums first, one division.
    double n = static_cast<double>(report.per_type.size());
    for (const EntityTypeScores& row : report.per_type) {
      report.macro.precision += row.scores.precision;
      report.macro.recall += row.scores.recall;
      report.macro.f1 += row.scores.f1;
    }
    report.macro.precision /= n;
    report.macro.recall /= n;
    report.macro.f1 /= n;
  }
  report.macro.support = support;

  if (total.truth == 0.0) {
    // seqeval's special case: no true entity at all.
    double p_or_f = total.pred == 0.0 ? zd : 0.0;
    report.weighted = {p_or_f, zd, p_or_f, 0};
  } else {
    for (const EntityTypeScores& row : report.per_type) {
      double w = static_cast<double>(row.scores.support);
      report.weighted.precision += row.scores.precision * w;
      report.weighted.recall += row.scores.recall * w;
      report.weighted.f1 += row.scores.f1 * w;
    }
    report.weighted.precision /= total.truth;
    report.weighted.recall /= total.truth;
    report.weighted.f1 /= total.truth;
    report.weighted.support = support;
  }
  return report;
}

}  // namespace xling::metrics
