// One fine-tuning task's part of `xling finetune`: which HF class it trains, how its rows
// become batches and a loss, what an evaluation measures and how the result is saved. The
// trainer (trainer.cpp) owns everything task-independent: the optimizer, schedule, loop,
// checkpoints, resumption, logging and PEFT freezing.
//
//   seq-cls / pair-cls / token-cls  objective_classify.cpp  <Family>For{Sequence,Token}Classification
//   bi-encoder                      objective_embed.cpp     <Family>Model + pooling (sentence-transformers dir)
//   cross-encoder                   objective_rerank.cpp    <Family>ForSequenceClassification, 1 logit
//   mlm                             objective_mlm.cpp       <Family>ForMaskedLM
//   seq2seq                         objective_seq2seq.cpp   the checkpoint's *ForConditionalGeneration / MarianMTModel
//   causal-lm                       objective_causal_lm.cpp the checkpoint's *ForCausalLM (Llama family, BLOOM)
//   --multitask                     objective_multitask.cpp several of the above, one shared encoder
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "models/registry.hpp"
#include "train/options.hpp"

namespace xling::train {

using Reporter = std::function<void(const std::string&)>;

struct EvalResult {
  std::size_t examples = 0;
  double loss = 0;  // mean over the file's batches
  // The task's metrics in display order (accuracy, macro_f1 / spearman / mrr@10 ...).
  std::vector<std::pair<std::string, double>> metrics;
  // NaN when the task has no such metric; "loss" gives the loss.
  double metric(const std::string& name) const;
};

// A training batch's loss and what the progress line counts.
struct BatchLoss {
  torch::Tensor loss;  // scalar, with a graph
  std::size_t rows = 0, tokens = 0;
};

class Objective {
 public:
  virtual ~Objective() = default;

  // The model being trained (multitask: the first task's); its named_parameters() carry HF names.
  virtual models::LoadedModel& model() { return model_; }

  // Trainable candidates under unique names (default: the model's named_parameters(); a
  // multitask run adds each task's head under "<task>/").
  virtual std::vector<std::pair<std::string, torch::Tensor>> parameters();
  virtual void set_training(bool on) { model_.module->train(on); }
  // The batches of one epoch as lists of training row indices (default: bucketed_batches).
  virtual std::vector<std::vector<std::size_t>> epoch_batches(std::size_t batch, bool shuffle, uint64_t seed, int epoch) const;

  virtual std::size_t train_size() const = 0;
  // Tokens of training row i (all its sequences), for length bucketing and the plan.
  virtual std::size_t row_tokens(std::size_t i) const = 0;
  // The loss of training rows `rows` (indices), in the model's current train/eval mode.
  virtual BatchLoss loss(const std::vector<std::size_t>& rows) = 0;

  std::size_t eval_files() const { return eval_paths_.size(); }
  const std::string& eval_path(std::size_t f) const { return eval_paths_[f]; }
  // Evaluates eval file `f` (no grad; the caller sets eval mode).
  virtual EvalResult evaluate(std::size_t f, std::size_t batch_size) = 0;

  // One line for the plan: "3 labels (single-label)", "loss mnrl, scale 20".
  virtual std::string describe() const = 0;
  // Module names of the task head: trained under every --peft method, PEFT's modules_to_save.
  virtual std::vector<std::string> head_modules() const = 0;
  virtual std::string peft_task_type() const = 0;  // SEQ_CLS, TOKEN_CLS, FEATURE_EXTRACTION
  // The whole model in the task's layout (an HF directory; a sentence-transformers directory
  // for bi-encoders), loadable by the matching HF/sentence-transformers class and by xling.
  // Default: save_config() + model.safetensors.
  virtual void save(const std::string& dir) const;
  // Everything but the weights (config, tokenizer, sentence-transformers modules): written
  // next to a PEFT adapter.
  virtual void save_config(const std::string& dir) const = 0;

 protected:
  models::LoadedModel model_;
  std::string source_dir_;  // the model directory the run started from (tokenizer, config)
  std::vector<std::string> eval_paths_;
};

// Shuffled: a seeded permutation, then length-sorted windows of 50 batches (little padding),
// then the batches in seeded order. Not shuffled: the file order, `batch` rows at a time.
std::vector<std::vector<std::size_t>> bucketed_batches(const Objective& obj, std::size_t batch, bool shuffle, uint64_t seed,
                                                       int epoch);

// Builds the objective of `opt.task` (or of the tasks of opt.multitask_path): reads the training and eval rows, loads the model from
// `load_dir` (the --model directory, or a checkpoint when resuming) into the task's class, and
// checks that the rows fit the model (vocabulary, labels). `report` receives what a user
// should know (new head weights, truncation).
std::unique_ptr<Objective> make_objective(const TrainOptions& opt, const std::string& load_dir, const Reporter& report);

// HF head class for `task` in the family of `architecture` ("XLMRobertaModel" + seq-cls ->
// "XLMRobertaForSequenceClassification"; bi-encoder -> "XLMRobertaModel").
std::string head_architecture(const std::string& architecture, Task task);

}  // namespace xling::train
