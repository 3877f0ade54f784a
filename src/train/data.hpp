// Training/evaluation rows for the fine-tuning tasks, read from JSONL (or from .tsv/.csv files
// with a header line, whose rows become the same objects: label cells that are numbers are
// numbers, text cells stay text). Each JSONL line is either
// pre-tokenized ({"input_ids": [...], optional "attention_mask"/"token_type_ids",
// "label"/"labels"}: exact experiments, ids used as given, padding in the mask dropped) or text
// with HF datasets' field names: "text"/"sentence" (+ "text_pair"/"sentence2"... for pairs, or
// "sentence1"/"sentence2", "premise"/"hypothesis", "question"/"passage") and "label" (an int,
// a label name, a float for regression, or a list of names/ints for multi-label).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tokenize/tokenizer.hpp"

namespace xling::train {

enum class Task { kSeqCls, kPairCls, kTokenCls };
Task parse_task(const std::string& name);  // seq-cls, pair-cls, token-cls
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
};

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
