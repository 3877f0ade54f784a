// Training/evaluation rows for the fine-tuning tasks, read from JSONL (or from .tsv/.csv files
// with a header line, whose rows become the same objects: label cells that are numbers are
// numbers, text cells stay text). Each JSONL line is either
// pre-tokenized ({"input_ids": [...], optional "attention_mask"/"token_type_ids",
// "label"/"labels"}: exact experiments, ids used as given, padding in the mask dropped) or text
// with HF datasets' field names: "text"/"sentence" (+ "text_pair"/"sentence2"... for pairs, or
// "sentence1"/"sentence2", "premise"/"hypothesis", "question"/"passage") and "label" (an int,
// a label name, a float for regression, or a list of names/ints for multi-label). Token-cls rows
// are pre-tokenized or words with a label each, as HF datasets' conll2003/wikiann/xtreme:
// {"tokens" (or "words"): [word, ...], "ner_tags" (or "tags"/"labels"): [name or int, ...]},
// tokenized as tokenizer(words, is_split_into_words=True) and aligned as run_ner.py does.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tokenize/tokenizer.hpp"

namespace xling::train {

// Classification tasks read labelled rows (read_examples); bi-encoder and cross-encoder rows are
// text tuples (text_rows.hpp); mlm rows are plain texts.
enum class Task { kSeqCls, kPairCls, kTokenCls, kBiEncoder, kCrossEncoder, kMlm, kSeq2Seq, kCausalLm };
Task parse_task(const std::string& name);  // seq-cls, pair-cls, token-cls, bi-encoder, cross-encoder, mlm, seq2seq
const char* task_name(Task t);

enum class LabelKind { kSingle, kMulti, kRegression };

struct Example {
  std::vector<int64_t> input_ids, token_type_ids;  // unpadded, special tokens included
  std::vector<int64_t> labels;                     // one class id (seq), or one per token (-100 = ignored)
  std::vector<float> targets;                      // regression value, or multi-hot over the labels
  std::size_t line = 0;                            // 1-based line in the file, for errors
};

// Label names <-> ids. Names come from the model's id2label when it has a head, else from the
// training file (sorted, so that the order never depends on the file order).
struct LabelSet {
  std::vector<std::string> names;
  LabelKind kind = LabelKind::kSingle;
  std::optional<int64_t> id(const std::string& name) const;
};

struct ReadOptions {
  Task task = Task::kSeqCls;
  std::size_t max_length = 512;  // truncation of text rows (specials kept); pre-tokenized rows must fit
  std::size_t* truncated = nullptr;
  // Rows of words (token-cls): label the continuation tokens of a word too (run_ner.py's
  // --label_all_tokens), else they get -100.
  bool label_all_tokens = false;
};

// Calls fn(line, row, where) for each row of a .jsonl/.tsv/.csv file, as read_examples does
// (`where` = "file:line" for errors). Throws for unreadable or empty files and broken rows.
void for_each_json_row(const std::string& path,
                       const std::function<void(std::size_t, const nlohmann::json&, const std::string&)>& fn);

// Collects the label names and kind of a training file (text labels sorted; integer labels
// 0..max named by `fallback_names` when given, else "LABEL_i"). Throws InvalidArgument naming
// the file and line for rows without a label or mixed label types.
LabelSet scan_labels(const std::string& path, Task task, const std::vector<std::string>& fallback_names);

// Reads every row; label names must be in `labels` (else InvalidArgument naming file, line and
// label). An empty file, a row with neither input_ids nor a text field, broken JSON or
// invalid UTF-8 are errors naming the file and line; an empty text is a text.
std::vector<Example> read_examples(const std::string& path, const tokenize::Tokenizer* tok, const LabelSet& labels,
                                   const ReadOptions& options);

}  // namespace xling::train
