// The options of `xling finetune` (docs/cli.md lists them as flags): the task, data, model,
// optimisation, evaluation, checkpointing and parameter-efficient settings of one run.
#pragma once

#include <cstdint>
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
  double lora_dropout = 0.0;   // dropout on the LoRA branch's input (training only), as PEFT
  bool merge_adapter = false;  // lora: save the merged full model instead of the adapter
  // "adapter": bottleneck adapters (frozen base) of `adapter_kind` houlsby|pfeiffer with hidden
  // size D / adapter_reduction; "prompt": `num_virtual_tokens` soft prompt vectors (PEFT prompt
  // tuning). Both train the task head too.
  std::string adapter_kind = "pfeiffer";
  int64_t adapter_reduction = 16;
  int64_t num_virtual_tokens = 20;
  // bi-encoder: mnrl (default for pairs/triplets), mnrl-symmetric, cosent (default for scored
  // pairs), cosine; cross-encoder: bce (default for labelled pairs), listwise (default for rows
  // with negatives). `scale` multiplies cosine similarities (MNRL, CoSENT); `margin` is LaBSE's
  // additive margin.
  std::string loss;
  double scale = 20.0, margin = 0.0;
  // bi-encoder from a plain HF encoder: pooling (cls|mean|max|...) and a Normalize module; a
  // sentence-transformers directory brings its own.
  std::string pooling;
  bool normalize = false;
  // mlm: the masking of DataCollatorForLanguageModeling (whole words with whole_word_mask).
  double mlm_probability = 0.15;
  bool whole_word_mask = false;
  // token-cls rows given as words: label every sub-token (default: the first, -100 after).
  bool label_all_tokens = false;
  // Train from scratch: the model directory's config.json (and tokenizer) only, every weight
  // initialised as HF's _init_weights with `seed`.
  bool init_from_config = false;
  // Several tasks on one shared encoder, from a JSON file (docs/cli.md "Multitask"): each task
  // has its own rows, head and eval files; task, train_path and eval_paths are then unused.
  std::string multitask_path;
  // seq2seq: the language codes of the tokenizer (NLLB fra_Latn, M2M-100 fr, mBART fr_XX, multi-target
  // Marian fra), label smoothing of the token cross-entropy (HF's label_smoothing_factor), and the
  // new-token limit of the greedy translations scored on eval files (BLEU, chrF++).
  std::string src_lang, tgt_lang;
  double label_smoothing = 0.0;
  int64_t eval_max_new_tokens = 128;
  // Run forward/backward under bf16 autocast (weights and optimizer stay fp32).
  bool bf16 = false;
  bool dry_run = false;
  bool quiet = false;
  torch::Device device = torch::kCPU;
};

}  // namespace xling::train
