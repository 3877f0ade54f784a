// BLEU as sacrebleu 2.6.0 computes it (corpus_bleu / sentence_bleu): its tokenizers,
// smoothing methods (exp, floor, add-k, none) with their default values, effective order,
// the closest-reference-length rule for multiple references, max n-gram order 4, and its
// signature string. Scores are bit-for-bit those of sacrebleu on the same Python floats.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/sacrebleu_tokenizers.hpp"

namespace xling::metrics {

inline constexpr int kBleuMaxOrder = 4;

enum class BleuSmooth { kExp, kFloor, kAddK, kNone };

// "exp", "floor", "add-k", "none"; nullopt otherwise.
std::optional<BleuSmooth> parse_bleu_smooth(std::string_view name);
std::string_view bleu_smooth_name(BleuSmooth smooth);

struct BleuOptions {
  BleuTokenizer tokenize = BleuTokenizer::k13a;
  BleuSmooth smooth = BleuSmooth::kExp;
  // floor / add-k value; unset means sacrebleu's default (floor 0.1, add-k 1).
  std::optional<double> smooth_value;
  bool lowercase = false;
  // Average only over the n-gram orders the hypothesis has (sacrebleu's effective_order).
  bool effective_order = false;
};

// The options sacrebleu's sentence_bleu() and its --sentence-level CLI use: as BleuOptions{}
// but with effective_order on.
BleuOptions sentence_bleu_defaults();

struct BleuScore {
  double score = 0;
  double bp = 0;
  double ratio = 0;                // sys_len / ref_len (0 when ref_len is 0)
  std::vector<double> precisions;  // percent, one per order 1..4
  int64_t sys_len = 0;
  int64_t ref_len = 0;
  std::vector<int64_t> counts;  // matched n-grams per order (before add-k smoothing)
  std::vector<int64_t> totals;  // hypothesis n-grams per order (before add-k smoothing)
  std::string signature;
};

// Sufficient statistics of one segment or a corpus (sums over segments).
struct BleuStats {
  int64_t sys_len = 0;
  int64_t ref_len = 0;
  std::array<int64_t, kBleuMaxOrder> correct{};
  std::array<int64_t, kBleuMaxOrder> total{};
};

// Statistics of one hypothesis against its references (at least one).
BleuStats bleu_segment_stats(const std::string& hyp, const std::vector<std::string>& refs, const BleuOptions& o);
// sacrebleu's BLEU.compute_bleu on aggregated statistics, with the signature for `num_refs`.
BleuScore compute_bleu(const BleuStats& stats, const BleuOptions& o, int num_refs);
// e.g. "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0"
std::string bleu_signature(const BleuOptions& o, int num_refs);

// refs[k][i]: the k-th reference stream, segment i (sacrebleu's layout). Throws
// xling::InvalidArgument when there are no hypotheses or references, when a stream's
// length differs from the hypotheses', or on invalid UTF-8.
BleuScore corpus_bleu(const std::vector<std::string>& hyps, const std::vector<std::vector<std::string>>& refs,
                      const BleuOptions& o);
// One hypothesis against one or more references (sacrebleu's sentence_bleu).
BleuScore sentence_bleu(const std::string& hyp, const std::vector<std::string>& refs,
                        const BleuOptions& o = sentence_bleu_defaults());

}  // namespace xling::metrics
