// TER (translation edit rate) as sacrebleu 2.6.0 computes it (corpus_ter / sentence_ter):
// its Tercom tokenizer (lowercasing unless case-sensitive, optional normalization,
// punctuation removal and Asian-character handling), its Tercom-compatible greedy shift
// search (max shift size 10, max shift distance 50, at most 1000 shift candidates) over a
// beam edit distance (beam width 25), and its signature.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace xling::metrics {

struct TerOptions {
  bool normalized = false;
  bool no_punct = false;
  bool asian_support = false;
  bool case_sensitive = false;
};

struct TerScore {
  double score = 0;       // 100 * num_edits / ref_length
  double num_edits = 0;   // summed over segments (best reference per segment)
  double ref_length = 0;  // summed average reference length
  std::string signature;  // e.g. "nrefs:1|case:lc|tok:tercom|norm:no|punct:yes|asian:no|version:2.6.0"
};

// sacrebleu's TercomTokenizer(sentence), as TER applies it to `sentence.rstrip()`.
std::string tokenize_tercom(std::string_view sentence, const TerOptions& o);

// lib_ter.translation_edit_rate: (number of edits incl. shifts, reference length).
struct TerEdits {
  int64_t num_edits = 0;
  int64_t ref_length = 0;
};
TerEdits translation_edit_rate(const std::vector<std::string_view>& hyp_words,
                               const std::vector<std::string_view>& ref_words);

std::string ter_signature(const TerOptions& o, int num_refs);

// refs[k][i]: the k-th reference stream, segment i (sacrebleu's layout). Throws
// xling::InvalidArgument on an empty corpus, mismatched stream lengths or invalid UTF-8.
TerScore corpus_ter(const std::vector<std::string>& hyps, const std::vector<std::vector<std::string>>& refs,
                    const TerOptions& o);
// One hypothesis against one or more references.
TerScore sentence_ter(const std::string& hyp, const std::vector<std::string>& refs, const TerOptions& o);

}  // namespace xling::metrics
