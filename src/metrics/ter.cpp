// TER, following sacrebleu 2.6.0's metrics/ter.py, metrics/lib_ter.py and
// tokenizers/tokenizer_ter.py (see ter.hpp). Words become integer ids per sentence pair; the
// beam edit distance, its tie-breaking between operations, the shift candidates and their
// ranking are those of lib_ter, so edit counts are identical. The prefix cache of edit
// distance rows only saves work: a row depends on the hypothesis prefix alone.
#include "metrics/ter.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include "metrics/sacrebleu_tokenizers.hpp"
#include "xling/errors.hpp"

namespace xling::metrics {

namespace {

constexpr int64_t kMaxShiftSize = 10;
constexpr int64_t kMaxShiftDist = 50;
constexpr int64_t kBeamWidth = 25;
constexpr int64_t kMaxShiftCandidates = 1000;
constexpr int64_t kInfinity = 10000000000000000;  // int(1e16)
constexpr std::size_t kMaxCacheRows = 10000;
constexpr std::size_t kMaxCacheCells = std::size_t{1} << 23;  // bounds memory for very long references

constexpr char kOpIns = 'i', kOpDel = 'd', kOpNop = ' ', kOpSub = 's', kOpUndef = 'x';

bool in_range(char32_t c, char32_t lo, char32_t hi) { return c >= lo && c <= hi; }

// Characters _normalize_asian surrounds with spaces. The Hiragana / Katakana passes there are
// anchored at the string start, which the general normalization always makes a space, so
// they never match and are left out.
bool is_asian_split_char(char32_t c) {
  return in_range(c, 0x4E00, 0x9FFF) || in_range(c, 0x3400, 0x4DBF) || in_range(c, 0x31C0, 0x31EF) ||
         in_range(c, 0x2E80, 0x2EFF) || in_range(c, 0x3300, 0x33FF) || in_range(c, 0xF900, 0xFAFF) ||
         in_range(c, 0xFE30, 0xFE4F) || in_range(c, 0x3200, 0x3F22);
}

// TercomTokenizer.ASIAN_PUNCT and FULL_WIDTH_PUNCT.
bool is_asian_punct(char32_t c) {
  return c == 0x3001 || c == 0x3002 || in_range(c, 0x3008, 0x3011) || in_range(c, 0x3014, 0x301F) ||
         in_range(c, 0xFF61, 0xFF65) || c == 0x30FB;
}
bool is_full_width_punct(char32_t c) {
  switch (c) {
    case 0xFF0E: case 0xFF0C: case 0xFF1F: case 0xFF1A: case 0xFF1B: case 0xFF01: case 0xFF02: case 0xFF08:
    case 0xFF09:
      return true;
    default:
      return false;
  }
}

std::string normalize_general_and_western(std::string sent) {
  python_replace(sent, "\n-", "");
  python_replace(sent, "\n", " ");
  python_replace(sent, "&quot;", "\"");
  python_replace(sent, "&amp;", "&");
  python_replace(sent, "&lt;", "<");
  python_replace(sent, "&gt;", ">");
  std::string padded = " " + sent + " ";
  std::string s = separate_mteval_symbols(padded);
  python_replace(s, "'s ", " 's ");
  // re.sub(r"'s$", " 's") cannot match: the string ends with the space added above.
  return separate_period_comma_dash(s);
}

std::string normalize_asian(std::string_view sent) {
  std::string out;
  out.reserve(sent.size() + sent.size() / 2);
  for (char32_t c : decode_utf8_string(sent)) {
    if (is_asian_split_char(c) || is_asian_punct(c) || is_full_width_punct(c)) {
      out.push_back(' ');
      append_utf8(out, c);
      out.push_back(' ');
    } else {
      append_utf8(out, c);
    }
  }
  return out;
}

std::string remove_punct(std::string_view sent) {  // [\.,\?:;!\"\(\)]
  std::string out;
  out.reserve(sent.size());
  for (char c : sent) {
    switch (c) {
      case '.': case ',': case '?': case ':': case ';': case '!': case '"': case '(': case ')':
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string remove_asian_punct(std::string_view sent) {
  std::string out;
  out.reserve(sent.size());
  for (char32_t c : decode_utf8_string(sent)) {
    if (!is_asian_punct(c) && !is_full_width_punct(c)) append_utf8(out, c);
  }
  return out;
}

// lib_ter.BeamEditDistance: Levenshtein distance of a hypothesis to the fixed reference,
// restricted to a beam around the (length-ratio) diagonal, with a prefix cache of rows.
class BeamEditDistance {
 public:
  explicit BeamEditDistance(const std::vector<uint32_t>& ref) : ref_(ref), width_(ref.size() + 1) {
    nodes_.push_back({{}, 0});
    costs_.resize(width_);
    ops_.resize(width_);
    for (std::size_t j = 0; j < width_; ++j) {  // reference insertions
      costs_[j] = static_cast<int64_t>(j);
      ops_[j] = kOpIns;
    }
  }

  // The edit distance; fills `trace` (ops rewriting the hypothesis into the reference)
  // when given.
  int64_t operator()(const std::vector<uint32_t>& hyp, std::string* trace) {
    const std::size_t n_h = hyp.size();
    // Rows already known for the longest cached prefix.
    path_.assign(1, 0);
    std::size_t node = 0;
    for (uint32_t w : hyp) {
      uint32_t child = find_child(node, w);
      if (child == 0) break;
      node = child;
      path_.push_back(nodes_[node].row);
    }
    const std::size_t start = path_.size() - 1;
    const std::size_t fresh = n_h - start;
    work_costs_.assign(fresh * width_, kInfinity);
    work_ops_.assign(fresh * width_, kOpUndef);

    const double length_ratio = n_h ? static_cast<double>(ref_.size()) / static_cast<double>(n_h) : 1.0;
    int64_t beam_width = kBeamWidth;
    if (static_cast<double>(kBeamWidth) < length_ratio / 2) {
      beam_width = static_cast<int64_t>(std::ceil(length_ratio / 2 + static_cast<double>(kBeamWidth)));
    }
    const auto n_ref1 = static_cast<int64_t>(width_);
    for (std::size_t i = start + 1; i <= n_h; ++i) {
      const int64_t* prev = row_costs(i - 1, start);
      int64_t* cur = &work_costs_[(i - start - 1) * width_];
      char* cur_ops = &work_ops_[(i - start - 1) * width_];
      const auto pseudo_diag = static_cast<int64_t>(std::floor(static_cast<double>(i) * length_ratio));
      const int64_t min_j = std::max<int64_t>(0, pseudo_diag - beam_width);
      int64_t max_j = std::min<int64_t>(n_ref1, pseudo_diag + beam_width);
      if (i == n_h) max_j = n_ref1;
      const uint32_t word = hyp[i - 1];
      for (int64_t j = min_j; j < max_j; ++j) {
        auto ju = static_cast<std::size_t>(j);
        if (j == 0) {
          cur[0] = prev[0] + 1;
          cur_ops[0] = kOpDel;
          continue;
        }
        // Tercom prefers no-op/substitution, then deletion, then insertion here (the trace
        // is flipped before alignment); strict comparisons keep the first best.
        const bool same = word == ref_[ju - 1];
        const int64_t sub = prev[ju - 1] + (same ? 0 : 1);
        if (cur[ju] > sub) {
          cur[ju] = sub;
          cur_ops[ju] = same ? kOpNop : kOpSub;
        }
        const int64_t del = prev[ju] + 1;
        if (cur[ju] > del) {
          cur[ju] = del;
          cur_ops[ju] = kOpDel;
        }
        const int64_t ins = cur[ju - 1] + 1;
        if (cur[ju] > ins) {
          cur[ju] = ins;
          cur_ops[ju] = kOpIns;
        }
      }
    }
    const int64_t distance = row_costs(n_h, start)[width_ - 1];

    if (trace) {
      trace->clear();
      std::size_t i = n_h, j = ref_.size();
      while (i > 0 || j > 0) {
        const char op = row_ops(i, start)[j];
        trace->push_back(op);
        if (op == kOpSub || op == kOpNop) {
          --i;
          --j;
        } else if (op == kOpIns) {
          --j;
        } else if (op == kOpDel) {
          --i;
        } else {
          throw Error(fmt::format("TER: edit distance trace reached an unset cell at ({}, {})", i, j));
        }
      }
      std::reverse(trace->begin(), trace->end());
    }

    add_to_cache(hyp, node, start);
    return distance;
  }

 private:
  struct Node {
    std::vector<std::pair<uint32_t, uint32_t>> children;  // (word, node)
    std::size_t row;
  };

  uint32_t find_child(std::size_t node, uint32_t word) const {
    for (const auto& [w, child] : nodes_[node].children) {
      if (w == word) return child;
    }
    return 0;
  }

  const int64_t* row_costs(std::size_t i, std::size_t start) const {
    return i <= start ? &costs_[path_[i] * width_] : &work_costs_[(i - start - 1) * width_];
  }
  const char* row_ops(std::size_t i, std::size_t start) const {
    return i <= start ? &ops_[path_[i] * width_] : &work_ops_[(i - start - 1) * width_];
  }

  void add_to_cache(const std::vector<uint32_t>& hyp, std::size_t node, std::size_t start) {
    if (nodes_.size() - 1 >= kMaxCacheRows || costs_.size() >= kMaxCacheCells) return;
    for (std::size_t i = start + 1; i <= hyp.size(); ++i) {
      const std::size_t row = costs_.size() / width_;
      costs_.insert(costs_.end(), work_costs_.begin() + static_cast<std::ptrdiff_t>((i - start - 1) * width_),
                    work_costs_.begin() + static_cast<std::ptrdiff_t>((i - start) * width_));
      ops_.insert(ops_.end(), work_ops_.begin() + static_cast<std::ptrdiff_t>((i - start - 1) * width_),
                  work_ops_.begin() + static_cast<std::ptrdiff_t>((i - start) * width_));
      nodes_.push_back({{}, row});
      const auto child = static_cast<uint32_t>(nodes_.size() - 1);
      nodes_[node].children.emplace_back(hyp[i - 1], child);
      node = child;
    }
  }

  const std::vector<uint32_t>& ref_;
  std::size_t width_;  // reference length + 1
  std::vector<Node> nodes_;
  std::vector<int64_t> costs_;
  std::vector<char> ops_;
  std::vector<std::size_t> path_;  // cached row index of each prefix length 0..start
  std::vector<int64_t> work_costs_;
  std::vector<char> work_ops_;
};

// lib_ter._perform_shift, with Python's clamped slices.
void perform_shift(const std::vector<uint32_t>& words, int64_t start, int64_t length, int64_t target,
                   std::vector<uint32_t>& out) {
  const auto n = static_cast<int64_t>(words.size());
  out.clear();
  auto slice = [&](int64_t a, int64_t b) {
    a = std::clamp<int64_t>(a, 0, n);
    b = std::clamp<int64_t>(b, 0, n);
    if (a < b) out.insert(out.end(), words.begin() + a, words.begin() + b);
  };
  if (target < start) {
    slice(0, target);
    slice(start, start + length);
    slice(target, start);
    slice(start + length, n);
  } else if (target > start + length) {
    slice(0, start);
    slice(start + length, target);
    slice(start, start + length);
    slice(target, n);
  } else {
    slice(0, start);
    slice(start + length, length + target);
    slice(start, start + length);
    slice(length + target, n);
  }
}

struct ShiftResult {
  int64_t delta = 0;
  bool found = false;
};

// lib_ter._shift: the shift that reduces the edit distance the most, ranked as Tercom does
// (gain, then length, then earliest source, then earliest target). Writes it to `best_words`.
ShiftResult find_best_shift(const std::vector<uint32_t>& words_h, const std::vector<uint32_t>& words_r,
                            BeamEditDistance& ed, int64_t& checked_candidates, std::vector<uint32_t>& best_words) {
  std::string trace;
  const int64_t pre_score = ed(words_h, &trace);
  // Flip the trace (rewrite the reference into the hypothesis) and align.
  const auto n_h = static_cast<int64_t>(words_h.size());
  const auto n_r = static_cast<int64_t>(words_r.size());
  std::vector<int64_t> align(static_cast<std::size_t>(n_r), 0);
  std::vector<char> has_align(static_cast<std::size_t>(n_r), 0);
  std::vector<int> hyp_err, ref_err;
  int64_t pos_hyp = -1, pos_ref = -1;
  for (char op : trace) {
    if (op == kOpIns) {
      op = kOpDel;
    } else if (op == kOpDel) {
      op = kOpIns;
    }
    if (op == kOpNop || op == kOpSub) {
      ++pos_hyp;
      ++pos_ref;
      align[static_cast<std::size_t>(pos_ref)] = pos_hyp;
      has_align[static_cast<std::size_t>(pos_ref)] = 1;
      hyp_err.push_back(op == kOpSub);
      ref_err.push_back(op == kOpSub);
    } else if (op == kOpIns) {
      ++pos_hyp;
      hyp_err.push_back(1);
    } else {
      ++pos_ref;
      align[static_cast<std::size_t>(pos_ref)] = pos_hyp;
      has_align[static_cast<std::size_t>(pos_ref)] = 1;
      ref_err.push_back(1);
    }
  }
  auto err_sum = [](const std::vector<int>& err, int64_t a, int64_t len) {
    int64_t s = 0;
    const auto end = std::min<int64_t>(a + len, static_cast<int64_t>(err.size()));
    for (int64_t k = a; k < end; ++k) s += err[static_cast<std::size_t>(k)];
    return s;
  };

  // Best candidate as the tuple (gain, length, -start_h, -idx).
  bool have_best = false;
  std::array<int64_t, 4> best{};
  std::vector<uint32_t> shifted;
  bool stop = false;
  for (int64_t start_h = 0; start_h < n_h && !stop; ++start_h) {
    for (int64_t start_r = 0; start_r < n_r && !stop; ++start_r) {
      if (std::llabs(start_r - start_h) > kMaxShiftDist) continue;
      int64_t length = 0;
      while (words_h[static_cast<std::size_t>(start_h + length)] == words_r[static_cast<std::size_t>(start_r + length)] &&
             length < kMaxShiftSize) {
        ++length;
        // Candidate (start_h, start_r, length) as _find_shifted_pairs yields it.
        const bool skip = err_sum(hyp_err, start_h, length) == 0 || err_sum(ref_err, start_r, length) == 0 ||
                          (start_h <= align[static_cast<std::size_t>(start_r)] &&
                           align[static_cast<std::size_t>(start_r)] < start_h + length);
        if (!skip) {
          int64_t prev_idx = -1;
          for (int64_t offset = -1; offset < length; ++offset) {
            const int64_t k = start_r + offset;
            int64_t idx;
            if (k == -1) {
              idx = 0;
            } else if (k >= 0 && k < n_r && has_align[static_cast<std::size_t>(k)]) {
              idx = align[static_cast<std::size_t>(k)] + 1;
            } else {
              break;
            }
            if (idx == prev_idx) continue;
            prev_idx = idx;
            perform_shift(words_h, start_h, length, idx, shifted);
            const std::array<int64_t, 4> candidate{pre_score - ed(shifted, nullptr), length, -start_h, -idx};
            ++checked_candidates;
            if (!have_best || candidate > best) {
              have_best = true;
              best = candidate;
              best_words = shifted;
            }
          }
          if (checked_candidates >= kMaxShiftCandidates) {
            stop = true;
            break;
          }
        }
        if (n_h == start_h + length || n_r == start_r + length) break;
      }
    }
  }
  if (!have_best) return {0, false};
  return {best[0], true};
}

// Maps each distinct word of a sentence pair to an id.
struct WordIds {
  std::unordered_map<std::string_view, uint32_t> ids;
  std::vector<uint32_t> map(const std::vector<std::string_view>& words) {
    std::vector<uint32_t> out;
    out.reserve(words.size());
    for (std::string_view w : words) out.push_back(ids.emplace(w, static_cast<uint32_t>(ids.size())).first->second);
    return out;
  }
};

TerEdits edit_rate_ids(const std::vector<uint32_t>& hyp, const std::vector<uint32_t>& ref) {
  if (ref.empty()) return {static_cast<int64_t>(hyp.size()), 0};  // special treatment of empty refs
  BeamEditDistance ed(ref);
  int64_t shifts = 0, checked_candidates = 0;
  std::vector<uint32_t> input = hyp, shifted;
  while (true) {
    ShiftResult r = find_best_shift(input, ref, ed, checked_candidates, shifted);
    if (checked_candidates >= kMaxShiftCandidates) break;
    if (r.delta <= 0) break;
    ++shifts;
    input.swap(shifted);
  }
  return {shifts + ed(input, nullptr), static_cast<int64_t>(ref.size())};
}

// TER._compute_segment_statistics: [best edits over the references, average reference length].
std::pair<int64_t, double> segment_stats(const std::string& hyp, const std::string* const* refs, std::size_t num_refs,
                                         const TerOptions& o) {
  // The id map holds views into these strings: they live until the end.
  std::vector<std::string> tokenized(num_refs + 1);
  tokenized[0] = tokenize_tercom(python_rstrip(hyp), o);
  WordIds ids;
  std::vector<uint32_t> hyp_ids = ids.map(python_split(tokenized[0]));
  int64_t ref_lengths = 0;
  int64_t best_num_edits = kInfinity;
  for (std::size_t k = 0; k < num_refs; ++k) {
    // sacrebleu tokenizes references twice (_cache_references preprocesses them, then
    // TER._extract_reference_info preprocesses the result again); with normalization the
    // second pass can split further ("x's\x1f" -> "x's" -> "x 's").
    std::string once = tokenize_tercom(python_rstrip(*refs[k]), o);
    tokenized[k + 1] = tokenize_tercom(once, o);
    std::vector<uint32_t> ref_ids = ids.map(python_split(tokenized[k + 1]));
    TerEdits e = edit_rate_ids(hyp_ids, ref_ids);
    ref_lengths += e.ref_length;
    if (e.num_edits < best_num_edits) best_num_edits = e.num_edits;
  }
  return {best_num_edits, static_cast<double>(ref_lengths) / static_cast<double>(num_refs)};
}

TerScore make_score(int64_t total_edits, double sum_ref_lengths, const TerOptions& o, int num_refs) {
  double score;
  if (sum_ref_lengths > 0) {
    score = static_cast<double>(total_edits) / sum_ref_lengths;
  } else if (total_edits > 0) {
    score = 1.0;  // empty reference(s) and non-empty hypothesis
  } else {
    score = 0.0;  // both empty
  }
  return {100 * score, static_cast<double>(total_edits), sum_ref_lengths, ter_signature(o, num_refs)};
}

}  // namespace

std::string tokenize_tercom(std::string_view sentence, const TerOptions& o) {
  if (sentence.empty()) return "";
  std::string sent = o.case_sensitive ? std::string(sentence) : python_lower(sentence);
  if (o.normalized) {
    sent = normalize_general_and_western(std::move(sent));
    if (o.asian_support) sent = normalize_asian(sent);
  }
  if (o.no_punct) {
    sent = remove_punct(sent);
    if (o.asian_support) sent = remove_asian_punct(sent);
  }
  return python_normalize_spaces(sent);
}

TerEdits translation_edit_rate(const std::vector<std::string_view>& hyp_words,
                               const std::vector<std::string_view>& ref_words) {
  WordIds ids;
  std::vector<uint32_t> hyp = ids.map(hyp_words);
  std::vector<uint32_t> ref = ids.map(ref_words);
  return edit_rate_ids(hyp, ref);
}

std::string ter_signature(const TerOptions& o, int num_refs) {
  return fmt::format("nrefs:{}|case:{}|tok:tercom|norm:{}|punct:{}|asian:{}|version:{}", num_refs,
                     o.case_sensitive ? "mixed" : "lc", o.normalized ? "yes" : "no", o.no_punct ? "no" : "yes",
                     o.asian_support ? "yes" : "no", kSacrebleuVersion);
}

TerScore corpus_ter(const std::vector<std::string>& hyps, const std::vector<std::vector<std::string>>& refs,
                    const TerOptions& o) {
  validate_corpus(hyps, refs, "TER");
  std::vector<const std::string*> seg_refs(refs.size());
  int64_t total_edits = 0;
  double sum_ref_lengths = 0.0;
  for (std::size_t i = 0; i < hyps.size(); ++i) {
    for (std::size_t k = 0; k < refs.size(); ++k) seg_refs[k] = &refs[k][i];
    auto [edits, ref_len] = segment_stats(hyps[i], seg_refs.data(), seg_refs.size(), o);
    total_edits += edits;
    sum_ref_lengths += ref_len;
  }
  return make_score(total_edits, sum_ref_lengths, o, static_cast<int>(refs.size()));
}

TerScore sentence_ter(const std::string& hyp, const std::vector<std::string>& refs, const TerOptions& o) {
  validate_sentence(hyp, refs, "TER");
  std::vector<const std::string*> ptrs;
  for (const std::string& r : refs) ptrs.push_back(&r);
  auto [edits, ref_len] = segment_stats(hyp, ptrs.data(), ptrs.size(), o);
  return make_score(edits, ref_len, o, static_cast<int>(refs.size()));
}

}  // namespace xling::metrics
