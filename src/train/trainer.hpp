// `xling finetune`: the training loop for encoder tasks (seq-cls, pair-cls, token-cls). Loads a
// checkpoint into the task's head class (a new head is initialised as HF does and reported),
// runs AdamW with a warmup schedule, clipping and accumulation, logs one JSON line per update,
// evaluates dev files and writes an HF directory that transformers loads as its own.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "train/data.hpp"
#include "train/schedule.hpp"

namespace xling::train {

struct TrainOptions {
  Task task = Task::kSeqCls;
  std::string model_dir, train_path, output_dir;
  std::vector<std::string> eval_paths;  // dev/test files, evaluated at the end (and every eval_steps)
  int epochs = 3;
  int64_t max_steps = 0;  // > 0 overrides epochs
  std::size_t batch_size = 8;
  int grad_accum = 1;
  double lr = 5e-5, weight_decay = 0.0, max_grad_norm = 1.0;
  int64_t warmup_steps = 0;
  Schedule schedule = Schedule::kLinear;
  bool decay_all = false;  // weight decay on biases and norms too (plain torch AdamW)
  // Layer-wise learning-rate decay: the head keeps lr, encoder layer i of L gets lr * d^(L - i),
  // the embeddings lr * d^(L + 1). 1 = off.
  double layer_lr_decay = 1.0;
  // Keep the best model by the first eval file's metric in OUTPUT/best ("accuracy", "macro_f1"
  // or "loss"; needs eval files and eval_steps); stop after `early_stopping_patience` evaluations
  // without improvement (0 = never).
  std::string metric_for_best;
  int early_stopping_patience = 0;
  uint64_t seed = 42;
  bool shuffle = true;  // false: file order exactly, no length bucketing
  std::size_t max_length = 0;  // 0 = the model's maximum
  int64_t eval_steps = 0;
  // Every N updates, OUTPUT/checkpoint-<step>/: the model as an HF directory plus the trainer
  // state (optimizer moments, step, data position, RNG, log so far), written to a temporary
  // folder and renamed, so a killed run leaves only complete checkpoints.
  int64_t save_steps = 0;
  int64_t save_total_limit = 0;  // keep only the last N checkpoints (0 = all)
  // Continue from the newest OUTPUT/checkpoint-* with the same options: the final weights and
  // log equal an uninterrupted run's.
  bool resume = false;
  std::string log_path;        // JSONL: {step, loss, grad_norm, lr, epoch} per update; {eval, step, rows, loss, accuracy, macro_f1} per evaluation
  std::string dump_grads_dir;  // gradients of the first update (before clipping) as grads.safetensors
  // Parameter-efficient fine-tuning: "none" (all weights), "lora" (LoRA on the Linear layers
  // named in lora_targets, plus the task head; saved in PEFT's adapter format), "bitfit" (biases
  // plus the task head; saved as a full model).
  std::string peft = "none";
  int64_t lora_r = 8;
  double lora_alpha = 16;
  std::vector<std::string> lora_targets = {"query", "value"};
  bool merge_adapter = false;  // lora: save the merged full model instead of the adapter
  bool dry_run = false;
  bool quiet = false;
  torch::Device device = torch::kCPU;
};

struct StepRecord {
  int64_t step = 0;
  double loss = 0, grad_norm = 0, lr = 0, epoch = 0;
};

struct EvalRecord {
  std::string file;
  int64_t step = 0;
  std::size_t examples = 0;
  double loss = 0, accuracy = 0, macro_f1 = 0;  // token-cls: over labelled tokens
};

struct TrainResult {
  std::vector<StepRecord> steps;
  std::vector<EvalRecord> evals;
  int64_t trainable_params = 0, total_params = 0, planned_steps = 0;
  double train_seconds = 0;  // the update loop, evaluations included
  std::vector<std::string> initialized, unused;  // new head weights / checkpoint tensors left out
};

// Runs the whole job; `report` receives human-readable lines (plan, load report, evals).
TrainResult finetune(const TrainOptions& options, const std::function<void(const std::string&)>& report = {});

// HF head class for `task` in the family of `architecture` ("XLMRobertaModel" + seq-cls ->
// "XLMRobertaForSequenceClassification").
std::string head_architecture(const std::string& architecture, Task task);

}  // namespace xling::train
