// Rows of texts for the embedding tasks, tokenized: bi-encoder rows (anchor, positive, hard
// negatives, or two sentences with a similarity score) and cross-encoder rows (a query with a
// labelled passage, or a query with one positive and negatives). Field names are those of the
// sentence-transformers / HF datasets (see docs/cli.md "finetune"):
//   anchor   anchor | query | sentence1 | sentence | text | premise | question
//   positive positive | passage | document | sentence2 | text_pair | hypothesis | answer
//   negative negative | negatives  (a text or a list of texts)
//   score    score | label  (a number)
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "tokenize/tokenizer.hpp"
#include "train/data.hpp"

namespace xling::train {

struct TokenSeq {
  std::vector<int64_t> ids, types;
};

struct TextTuple {
  // bi-encoder: [anchor, positive, negatives...] each encoded alone; cross-encoder:
  // [(query, positive), (query, negative)...] or [(query, passage)] encoded as pairs.
  std::vector<TokenSeq> seqs;
  float score = 0;         // the row's score/label (scored rows)
  bool has_score = false;
  std::size_t line = 0;
  std::size_t tokens() const {
    std::size_t n = 0;
    for (const auto& s : seqs) n += s.ids.size();
    return n;
  }
};

enum class TupleKind {
  kPairs,     // anchor + positive (+ negatives): contrastive (MNRL) / listwise
  kScored,    // two texts + a score: CoSENT / cosine (bi-encoder), BCE (cross-encoder)
};

struct TextRows {
  std::vector<TextTuple> rows;
  TupleKind kind = TupleKind::kPairs;
  std::size_t negatives = 0;  // most negatives in one row
};

// Reads and tokenizes a .jsonl/.tsv/.csv file for `task` (kBiEncoder or kCrossEncoder), texts
// truncated to max_length tokens (counted in *truncated). Every row must be of the same kind;
// errors name the file and line (missing fields, a score that is not a number, mixed kinds).
TextRows read_text_rows(const std::string& path, const tokenize::Tokenizer& tok, Task task, std::size_t max_length,
                        std::size_t* truncated);

}  // namespace xling::train
