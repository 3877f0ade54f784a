// chrF / chrF++, following sacrebleu 2.6.0's metrics/chrf.py (see chrf.hpp). Statistics are
// integer counts; the F-score repeats _compute_f_score's floating-point operations in order.
#include "metrics/chrf.hpp"

#include <fmt/format.h>

#include "metrics/sacrebleu_tokenizers.hpp"
#include "xling/errors.hpp"

namespace xling::metrics {

namespace {

bool is_ascii_punct(char c) {  // Python's string.punctuation
  auto u = static_cast<unsigned char>(c);
  return (u >= 0x21 && u <= 0x2F) || (u >= 0x3A && u <= 0x40) || (u >= 0x5B && u <= 0x60) || (u >= 0x7B && u <= 0x7E);
}

// CHRF._remove_punctuation: a punctuation mark at the end (else at the start) of a word of
// two or more characters becomes its own word ('(hi)' -> '(hi', ')', as sacrebleu #124).
void remove_punctuation(std::string_view sent, std::vector<std::string_view>& out) {
  out.clear();
  for (std::string_view w : python_split(sent)) {
    auto lead = static_cast<unsigned char>(w[0]);
    std::size_t first_len = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    if (w.size() == first_len) {
      out.push_back(w);
    } else if (is_ascii_punct(w.back())) {
      out.push_back(w.substr(0, w.size() - 1));
      out.push_back(w.substr(w.size() - 1));
    } else if (is_ascii_punct(w.front())) {
      out.push_back(w.substr(0, 1));
      out.push_back(w.substr(1));
    } else {
      out.push_back(w);
    }
  }
}

// The characters of `s` whose n-grams chrF counts: without Python whitespace unless kept.
void ngram_chars(std::string_view s, bool keep_whitespace, std::u32string& out) {
  out.clear();
  if (keep_whitespace) {
    out = decode_utf8_string(s);
    return;
  }
  for (std::string_view w : python_split(s)) out += decode_utf8_string(w);
}

void check_options(const ChrfOptions& o) {
  if (o.char_order < 0 || o.word_order < 0 || o.char_order + o.word_order == 0) {
    throw InvalidArgument(fmt::format("chrF: char_order {} and word_order {} must be >= 0 with at least one > 0",
                                      o.char_order, o.word_order));
  }
  if (o.beta < 0) throw InvalidArgument(fmt::format("chrF: beta {} must be >= 0", o.beta));
}

// CHRF._compute_f_score over [hyp, ref, match] triplets, one per order.
double f_score(const std::vector<int64_t>& stats, const ChrfOptions& o) {
  const double eps = 1e-16;
  const double factor = static_cast<double>(o.beta) * static_cast<double>(o.beta);
  const int order = o.char_order + o.word_order;
  double score = 0.0, avg_prec = 0.0, avg_rec = 0.0;
  int effective_order = 0;
  for (int i = 0; i < order; ++i) {
    const int64_t n_hyp = stats[static_cast<std::size_t>(3 * i)];
    const int64_t n_ref = stats[static_cast<std::size_t>(3 * i + 1)];
    const int64_t n_match = stats[static_cast<std::size_t>(3 * i + 2)];
    const double prec = n_hyp > 0 ? static_cast<double>(n_match) / static_cast<double>(n_hyp) : eps;
    const double rec = n_ref > 0 ? static_cast<double>(n_match) / static_cast<double>(n_ref) : eps;
    const double denom = factor * prec + rec;
    score += denom > 0 ? (1 + factor) * prec * rec / denom : eps;
    if (n_hyp > 0 && n_ref > 0) {
      avg_prec += prec;
      avg_rec += rec;
      ++effective_order;
    }
  }
  if (o.eps_smoothing) return 100 * score / order;
  if (effective_order == 0) {
    avg_prec = avg_rec = 0.0;
  } else {
    avg_prec /= effective_order;
    avg_rec /= effective_order;
  }
  if (avg_prec + avg_rec != 0.0) {
    score = (1 + factor) * avg_prec * avg_rec;
    score /= (factor * avg_prec) + avg_rec;
    return 100 * score;
  }
  return 0.0;
}

// Reused per segment so that a corpus allocates its buffers once.
struct SegmentScorer {
  NgramMatcher matcher;
  NgramMatches char_matches, word_matches;
  std::vector<std::string> texts;
  std::u32string chars;
  std::vector<std::vector<std::string_view>> words;
  std::vector<int64_t> stats, best;

  // Appends the best reference's statistics (3 per order) to `sums`.
  void score(const std::string& hyp, const std::string* const* refs, std::size_t num_refs, const ChrfOptions& o,
             std::vector<int64_t>& sums) {
    texts.resize(num_refs + 1);
    texts[0] = o.lowercase ? python_lower(hyp) : hyp;
    for (std::size_t k = 0; k < num_refs; ++k) texts[k + 1] = o.lowercase ? python_lower(*refs[k]) : *refs[k];
    if (o.char_order > 0) {
      matcher.clear();
      for (const std::string& t : texts) {
        ngram_chars(t, o.whitespace, chars);
        matcher.add_chars(chars);
      }
      matcher.count(o.char_order, char_matches);
    }
    if (o.word_order > 0) {
      matcher.clear();
      words.resize(texts.size());
      for (std::size_t s = 0; s < texts.size(); ++s) {
        remove_punctuation(texts[s], words[s]);
        matcher.add_words(words[s]);
      }
      matcher.count(o.word_order, word_matches);
    }
    const auto refs_n = num_refs;
    double best_f = -1.0;
    for (std::size_t k = 0; k < num_refs; ++k) {
      stats.clear();
      auto append = [&](const NgramMatches& m, int orders) {
        for (int n = 0; n < orders; ++n) {
          const std::size_t slot = static_cast<std::size_t>(n) * refs_n + k;
          const int64_t ref_total = m.ref_total[slot];
          stats.push_back(ref_total > 0 ? m.hyp_total[static_cast<std::size_t>(n)] : 0);
          stats.push_back(ref_total);
          stats.push_back(m.match[slot]);
        }
      };
      if (o.char_order > 0) append(char_matches, o.char_order);
      if (o.word_order > 0) append(word_matches, o.word_order);
      const double f = f_score(stats, o);
      if (f > best_f) {
        best_f = f;
        best = stats;
      }
    }
    for (std::size_t i = 0; i < best.size(); ++i) sums[i] += best[i];
  }
};

}  // namespace

std::string chrf_signature(const ChrfOptions& o, int num_refs) {
  return fmt::format("nrefs:{}|case:{}|eff:{}|nc:{}|nw:{}|space:{}|version:{}", num_refs,
                     o.lowercase ? "lc" : "mixed", o.eps_smoothing ? "no" : "yes", o.char_order, o.word_order,
                     o.whitespace ? "yes" : "no", kSacrebleuVersion);
}

ChrfScore corpus_chrf(const std::vector<std::string>& hyps, const std::vector<std::vector<std::string>>& refs,
                      const ChrfOptions& o) {
  check_options(o);
  validate_corpus(hyps, refs, "chrF");
  SegmentScorer scorer;
  std::vector<const std::string*> seg_refs(refs.size());
  std::vector<int64_t> sums(static_cast<std::size_t>(3 * (o.char_order + o.word_order)), 0);
  for (std::size_t i = 0; i < hyps.size(); ++i) {
    for (std::size_t k = 0; k < refs.size(); ++k) seg_refs[k] = &refs[k][i];
    scorer.score(hyps[i], seg_refs.data(), seg_refs.size(), o, sums);
  }
  return {f_score(sums, o), chrf_signature(o, static_cast<int>(refs.size()))};
}

ChrfScore sentence_chrf(const std::string& hyp, const std::vector<std::string>& refs, const ChrfOptions& o) {
  check_options(o);
  validate_sentence(hyp, refs, "chrF");
  std::vector<const std::string*> ptrs;
  for (const std::string& r : refs) ptrs.push_back(&r);
  SegmentScorer scorer;
  std::vector<int64_t> sums(static_cast<std::size_t>(3 * (o.char_order + o.word_order)), 0);
  scorer.score(hyp, ptrs.data(), ptrs.size(), o, sums);
  return {f_score(sums, o), chrf_signature(o, static_cast<int>(refs.size()))};
}

}  // namespace xling::metrics
