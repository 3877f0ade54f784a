// chrF and chrF++ as sacrebleu 2.6.0 computes them (corpus_chrf / sentence_chrf): character
// n-grams up to char_order over the text with whitespace removed, word n-grams up to
// word_order after sacrebleu's punctuation splitting (chrF++ is word_order 2), F-beta over
// the averaged precisions and recalls of the orders both sides have (effective order; or
// chrF++.py's eps smoothing when asked), the best-scoring reference per segment.
#pragma once

#include <string>
#include <vector>

namespace xling::metrics {

struct ChrfOptions {
  int char_order = 6;
  int word_order = 0;  // 2 for chrF++
  int beta = 2;
  bool lowercase = false;
  bool whitespace = false;     // keep whitespace in character n-grams
  bool eps_smoothing = false;  // chrF++.py / Moses / NLTK smoothing instead of effective order
};

struct ChrfScore {
  double score = 0;
  std::string signature;  // e.g. "nrefs:1|case:mixed|eff:yes|nc:6|nw:2|space:no|version:2.6.0"
};

// e.g. "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0"
std::string chrf_signature(const ChrfOptions& o, int num_refs);

// refs[k][i]: the k-th reference stream, segment i (sacrebleu's layout). Throws
// xling::InvalidArgument on an empty corpus, mismatched stream lengths, invalid UTF-8 or
// invalid options (negative orders or beta, no order at all).
ChrfScore corpus_chrf(const std::vector<std::string>& hyps, const std::vector<std::vector<std::string>>& refs,
                      const ChrfOptions& o);
// One hypothesis against one or more references.
ChrfScore sentence_chrf(const std::string& hyp, const std::vector<std::string>& refs, const ChrfOptions& o);

}  // namespace xling::metrics
