// `xling finetune`: the training loop for encoder tasks. The task's Objective (objective.hpp)
// loads the model into its class (a new head is initialised as HF does and reported), makes
// batches and losses and evaluates; the loop runs AdamW with a warmup schedule, clipping and
// accumulation, PEFT freezing, logs one JSON line per update, checkpoints and resumes, and
// saves a directory that transformers / sentence-transformers / PEFT load as their own.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "train/objective.hpp"
#include "train/options.hpp"

namespace xling::train {

struct StepRecord {
  int64_t step = 0;
  double loss = 0, grad_norm = 0, lr = 0, epoch = 0;
};

struct EvalRecord {
  std::string file;
  int64_t step = 0;
  EvalResult result;  // rows, loss and the task's metrics
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

}  // namespace xling::train
