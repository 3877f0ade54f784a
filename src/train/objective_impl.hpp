// Internal to src/train/objective*.cpp: the per-task factories and the helpers they share.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "train/objective.hpp"
#include "train/text_rows.hpp"

namespace xling::train {

std::unique_ptr<Objective> make_classify_objective(const TrainOptions& opt, const std::string& load_dir, const Reporter& report);
std::unique_ptr<Objective> make_embed_objective(const TrainOptions& opt, const std::string& load_dir, const Reporter& report);
std::unique_ptr<Objective> make_rerank_objective(const TrainOptions& opt, const std::string& load_dir, const Reporter& report);
std::unique_ptr<Objective> make_multitask_objective(const TrainOptions& opt, const std::string& load_dir, const Reporter& report);
std::unique_ptr<Objective> make_mlm_objective(const TrainOptions& opt, const std::string& load_dir, const Reporter& report);
std::unique_ptr<Objective> make_seq2seq_objective(const TrainOptions& opt, const std::string& load_dir, const Reporter& report);
std::unique_ptr<Objective> make_causal_lm_objective(const TrainOptions& opt, const std::string& load_dir, const Reporter& report);

namespace detail {

// One tokenized sequence, special tokens included, unpadded (types empty = all 0).
using Sequence = TokenSeq;

struct PaddedBatch {
  models::NamedTensors inputs;  // input_ids, attention_mask, token_type_ids: (B, T) int64 on the device
  std::size_t tokens = 0;       // real (unpadded) tokens
};

// Rows 0..rows-1 in file order, `batch` at a time (evaluation batches).
std::vector<std::vector<std::size_t>> in_order_batches(std::size_t rows, std::size_t batch);

// Right-pads `seqs` with pad_id into one batch on `device`.
PaddedBatch pad_sequences(const std::vector<const Sequence*>& seqs, int64_t pad_id, const torch::Device& device);

// How an objective loads its model for training: `task`'s class in the family of
// `base_architecture`, missing weights initialised as HF does (seeded), every weight with
// --init-from-config (unless resuming from a checkpoint), on the run's device.
models::LoadOptions training_load_options(const TrainOptions& opt, const std::string& load_dir,
                                          const std::string& base_architecture, Task task);

// InvalidArgument naming `where` when an id is outside the model's vocabulary.
void check_vocabulary(const models::LoadedModel& m, const std::vector<int64_t>& ids, const std::string& where);

}  // namespace detail

// Objectives over text tuples (bi-encoder, cross-encoder): the tokenizer and the train/eval rows.
class TextRowsObjective : public Objective {
 public:
  std::size_t train_size() const override { return train_.rows.size(); }
  std::size_t row_tokens(std::size_t i) const override { return train_.rows[i].tokens(); }

 protected:
  std::shared_ptr<tokenize::Tokenizer> tok_;
  TextRows train_;
  std::vector<TextRows> eval_;
  int64_t pad_id_ = 0;
};
}  // namespace xling::train
