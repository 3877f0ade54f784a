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

namespace detail {

// One tokenized sequence, special tokens included, unpadded (types empty = all 0).
using Sequence = TokenSeq;

struct PaddedBatch {
  models::NamedTensors inputs;  // input_ids, attention_mask, token_type_ids: (B, T) int64 on the device
  std::size_t tokens = 0;       // real (unpadded) tokens
};

// Right-pads `seqs` with pad_id into one batch on `device`.
PaddedBatch pad_sequences(const std::vector<const Sequence*>& seqs, int64_t pad_id, const torch::Device& device);

// InvalidArgument naming `where` when an id is outside the model's vocabulary.
void check_vocabulary(const models::LoadedModel& m, const std::vector<int64_t>& ids, const std::string& where);

}  // namespace detail
}  // namespace xling::train
