// BLEU, following sacrebleu 2.6.0's metrics/bleu.py step by step (see bleu.hpp). The
// floating-point operations are those of compute_bleu, in the same order, so that scores
// agree with sacrebleu to the last bit.
#include "metrics/bleu.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "xling/errors.hpp"

namespace xling::metrics {

namespace {

double default_smooth_value(BleuSmooth smooth) {
  // BLEU.SMOOTH_DEFAULTS (Chen & Cherry 2014): floor 0.1, add-k 1; exp and none take none.
  return smooth == BleuSmooth::kFloor ? 0.1 : smooth == BleuSmooth::kAddK ? 1.0 : 0.0;
}

// sacrebleu.utils.my_log: log floored to a very low number at 0.
double my_log(double x) { return x == 0.0 ? -9999999999.0 : std::log(x); }

// BLEU._get_closest_ref_len: the reference length closest to the hypothesis length, the
// shorter one on ties.
int64_t closest_ref_len(int64_t hyp_len, const std::vector<int64_t>& ref_lens) {
  int64_t closest_diff = -1, closest_len = -1;
  for (int64_t ref_len : ref_lens) {
    int64_t diff = std::llabs(hyp_len - ref_len);
    if (closest_diff == -1 || diff < closest_diff) {
      closest_diff = diff;
      closest_len = ref_len;
    } else if (diff == closest_diff && ref_len < closest_len) {
      closest_len = ref_len;
    }
  }
  return closest_len;
}

// Reused per segment so that a corpus allocates its buffers once.
struct SegmentScorer {
  NgramMatcher matcher;
  NgramMatches matches;
  std::vector<std::string> tokenized;
  std::vector<std::vector<std::string_view>> words;
  std::vector<int64_t> ref_lens;

  BleuStats score(const std::string& hyp, const std::string* const* refs, std::size_t num_refs, const BleuOptions& o) {
    tokenized.resize(num_refs + 1);
    words.resize(num_refs + 1);
    tokenized[0] = bleu_tokenize(hyp, o.tokenize, o.lowercase);
    for (std::size_t k = 0; k < num_refs; ++k) tokenized[k + 1] = bleu_tokenize(*refs[k], o.tokenize, o.lowercase);
    matcher.clear();
    ref_lens.clear();
    for (std::size_t s = 0; s <= num_refs; ++s) {
      words[s] = python_split(tokenized[s]);
      matcher.add_words(words[s]);
      if (s > 0) ref_lens.push_back(static_cast<int64_t>(words[s].size()));
    }
    matcher.count(kBleuMaxOrder, matches);
    BleuStats stats;
    stats.sys_len = static_cast<int64_t>(words[0].size());
    stats.ref_len = closest_ref_len(stats.sys_len, ref_lens);
    for (int n = 0; n < kBleuMaxOrder; ++n) {
      stats.correct[static_cast<std::size_t>(n)] = matches.match_max_ref[static_cast<std::size_t>(n)];
      stats.total[static_cast<std::size_t>(n)] = matches.hyp_total[static_cast<std::size_t>(n)];
    }
    return stats;
  }
};

void check_options(const BleuOptions& o) {
  if (o.smooth_value && !std::isfinite(*o.smooth_value)) {
    throw InvalidArgument(fmt::format("BLEU: smooth value {} is not a finite number", *o.smooth_value));
  }
}

}  // namespace

std::optional<BleuSmooth> parse_bleu_smooth(std::string_view name) {
  if (name == "exp") return BleuSmooth::kExp;
  if (name == "floor") return BleuSmooth::kFloor;
  if (name == "add-k") return BleuSmooth::kAddK;
  if (name == "none") return BleuSmooth::kNone;
  return std::nullopt;
}

std::string_view bleu_smooth_name(BleuSmooth smooth) {
  switch (smooth) {
    case BleuSmooth::kExp: return "exp";
    case BleuSmooth::kFloor: return "floor";
    case BleuSmooth::kAddK: return "add-k";
    case BleuSmooth::kNone: return "none";
  }
  return "exp";
}

BleuOptions sentence_bleu_defaults() {
  BleuOptions o;
  o.effective_order = true;
  return o;
}

std::string bleu_signature(const BleuOptions& o, int num_refs) {
  std::string smooth(bleu_smooth_name(o.smooth));
  if (o.smooth == BleuSmooth::kFloor || o.smooth == BleuSmooth::kAddK) {
    smooth += fmt::format("[{:.2f}]", o.smooth_value.value_or(default_smooth_value(o.smooth)));
  }
  return fmt::format("nrefs:{}|case:{}|eff:{}|tok:{}|smooth:{}|version:{}", num_refs, o.lowercase ? "lc" : "mixed",
                     o.effective_order ? "yes" : "no", bleu_tokenizer_name(o.tokenize), smooth, kSacrebleuVersion);
}

BleuScore compute_bleu(const BleuStats& stats, const BleuOptions& o, int num_refs) {
  check_options(o);
  const double smooth_value = o.smooth_value.value_or(default_smooth_value(o.smooth));
  BleuScore out;
  out.sys_len = stats.sys_len;
  out.ref_len = stats.ref_len;
  out.counts.assign(stats.correct.begin(), stats.correct.end());
  out.totals.assign(stats.total.begin(), stats.total.end());
  out.ratio = stats.ref_len ? static_cast<double>(stats.sys_len) / static_cast<double>(stats.ref_len) : 0.0;
  out.signature = bleu_signature(o, num_refs);
  out.precisions.assign(kBleuMaxOrder, 0.0);

  out.bp = 1.0;
  if (stats.sys_len < stats.ref_len) {
    out.bp = stats.sys_len > 0
                 ? std::exp(1.0 - static_cast<double>(stats.ref_len) / static_cast<double>(stats.sys_len))
                 : 0.0;
  }
  // Early stop when nothing matched (sacrebleu #141).
  if (std::all_of(stats.correct.begin(), stats.correct.end(), [](int64_t c) { return c == 0; })) {
    out.score = 0.0;
    return out;
  }

  double smooth_mteval = 1.0;
  int eff_order = kBleuMaxOrder;
  for (int n = 1; n <= kBleuMaxOrder; ++n) {
    auto idx = static_cast<std::size_t>(n - 1);
    // add-k turns the counts into floats in Python; doubles hold the same values.
    double correct = static_cast<double>(stats.correct[idx]);
    double total = static_cast<double>(stats.total[idx]);
    if (o.smooth == BleuSmooth::kAddK && n > 1) {
      correct += smooth_value;
      total += smooth_value;
    }
    if (total == 0) break;
    if (o.effective_order) eff_order = n;
    if (correct == 0) {
      if (o.smooth == BleuSmooth::kExp) {
        smooth_mteval *= 2;
        out.precisions[idx] = 100.0 / (smooth_mteval * total);
      } else if (o.smooth == BleuSmooth::kFloor) {
        out.precisions[idx] = 100.0 * smooth_value / total;
      }
    } else {
      out.precisions[idx] = 100.0 * correct / total;
    }
  }
  // Python 3.11's sum() (the project's venv) adds left to right. Python >= 3.12 compensates
  // the rounding, which can move the last bits (tests/fixtures/.../sacrebleu.json was made
  // with it: sentence scores differ from these by <= ~1e-15 relative).
  double log_sum = 0.0;
  for (int n = 0; n < eff_order; ++n) log_sum += my_log(out.precisions[static_cast<std::size_t>(n)]);
  out.score = out.bp * std::exp(log_sum / eff_order);
  return out;
}

BleuStats bleu_segment_stats(const std::string& hyp, const std::vector<std::string>& refs, const BleuOptions& o) {
  validate_sentence(hyp, refs, "BLEU");
  std::vector<const std::string*> ptrs;
  for (const std::string& r : refs) ptrs.push_back(&r);
  SegmentScorer scorer;
  return scorer.score(hyp, ptrs.data(), ptrs.size(), o);
}

BleuScore corpus_bleu(const std::vector<std::string>& hyps, const std::vector<std::vector<std::string>>& refs,
                      const BleuOptions& o) {
  check_options(o);
  validate_corpus(hyps, refs, "BLEU");
  SegmentScorer scorer;
  std::vector<const std::string*> seg_refs(refs.size());
  BleuStats sum;
  for (std::size_t i = 0; i < hyps.size(); ++i) {
    for (std::size_t k = 0; k < refs.size(); ++k) seg_refs[k] = &refs[k][i];
    BleuStats s = scorer.score(hyps[i], seg_refs.data(), seg_refs.size(), o);
    sum.sys_len += s.sys_len;
    sum.ref_len += s.ref_len;
    for (std::size_t n = 0; n < kBleuMaxOrder; ++n) {
      sum.correct[n] += s.correct[n];
      sum.total[n] += s.total[n];
    }
  }
  return compute_bleu(sum, o, static_cast<int>(refs.size()));
}

BleuScore sentence_bleu(const std::string& hyp, const std::vector<std::string>& refs, const BleuOptions& o) {
  check_options(o);
  return compute_bleu(bleu_segment_stats(hyp, refs, o), o, static_cast<int>(refs.size()));
}

}  // namespace xling::metrics
