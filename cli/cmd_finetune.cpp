// `xling finetune`: fine-tune an encoder on a classification, tagging, embedding, reranking or
// masked-LM task (docs/cli.md).
#include <algorithm>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "cli/common.hpp"
#include "io/model_location.hpp"
#include "models/registry.hpp"
#include "train/trainer.hpp"
#include "xling/errors.hpp"

namespace xling::cli {
namespace {

struct FinetuneOptions {
  std::string task = "seq-cls", scheduler = "linear", device = "cpu", eval_dir;
  train::TrainOptions t;
};

int run_finetune(FinetuneOptions& opt) {
  opt.t.task = train::parse_task(opt.task);
  if (opt.t.lora_targets.empty()) {  // PEFT's defaults: attention query and value projections
    opt.t.lora_targets = {"query", "value"};
    if (opt.t.task == train::Task::kCausalLm) {
      auto cfg = io::load_config_any(io::resolve_model(opt.t.model_dir));
      const bool bloom = !cfg->architectures.empty() && cfg->architectures.front() == "BloomForCausalLM";
      opt.t.lora_targets = bloom ? std::vector<std::string>{"query_key_value"} : std::vector<std::string>{"q_proj", "v_proj"};
    }
  }
  opt.t.schedule = train::parse_schedule(opt.scheduler);
  opt.t.device = models::parse_device(opt.device);
  if (!opt.eval_dir.empty()) {  // one file per language: zero-shot transfer is one flag
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::directory_iterator(opt.eval_dir)) {
      if (e.path().extension() == ".jsonl") files.push_back(e.path().string());
    }
    if (files.empty()) throw InvalidArgument(fmt::format("{}: no .jsonl files to evaluate", opt.eval_dir));
    std::sort(files.begin(), files.end());
    opt.t.eval_paths.insert(opt.t.eval_paths.end(), files.begin(), files.end());
  }
  if (opt.t.output_dir.empty() && !opt.t.dry_run) throw InvalidArgument("--output is required (or --dry-run)");
  if (opt.t.train_path.empty() == opt.t.multitask_path.empty()) {
    throw InvalidArgument("give --train FILE (one task) or --multitask FILE.json (several), not both");
  }
  if (!opt.t.multitask_path.empty() && !opt.t.eval_paths.empty()) {
    throw InvalidArgument("with --multitask, eval files belong to their task in the JSON file (\"eval\")");
  }
  auto result = train::finetune(opt.t, [](const std::string& line) { std::cerr << "xling finetune: " << line << "\n"; });
  if (opt.t.dry_run) return kExitOk;
  if (!result.steps.empty()) {
    const auto& last = result.steps.back();
    std::cerr << fmt::format("xling finetune: {} updates, last loss {:.4f}; wrote {}\n", last.step, last.loss,
                             opt.t.output_dir);
  }
  return kExitOk;
}

}  // namespace

void add_finetune_command(CLI::App& app, CommandList& commands) {
  auto opt = std::make_shared<FinetuneOptions>();
  CLI::App* sub = app.add_subcommand(
      "finetune",
      "Fine-tune an encoder (BERT/XLM-R family) on a task (--task) or several sharing the encoder (--multitask) and "
      "write what transformers / sentence-transformers / peft load as their own. Classification rows: JSONL, "
      "pre-tokenized ({\"input_ids\": [...], \"label\": ...}) or text ({\"text\": ..., \"label\": ...}; pairs as "
      "sentence1/sentence2, premise/hypothesis or text/text_pair); labels: names, ints, floats (regression) or lists "
      "(multi-label). A base checkpoint gets a new head initialised as HF does. See docs/cli.md.");
  auto& t = opt->t;
  t.lora_targets.clear();  // a per-task default, set once the task is known
  sub->add_option("--task", opt->task,
                  "seq-cls, pair-cls, token-cls (rows: input_ids + labels, or tokens + ner_tags), bi-encoder (anchor/positive"
                  "[/negative] or sentence1/sentence2/score; saves a sentence-transformers dir), cross-encoder (query/passage/"
                  "label or query/positive/negatives; saves a CrossEncoder dir), mlm (texts: .txt lines or {\"text\"}), seq2seq "
                  "(parallel rows source/target for M2M-100/NLLB, mBART, Marian, mT5; dev BLEU/chrF++), causal-lm (LLMs: "
                  "{\"messages\"} through the chat template with the loss on assistant turns, {\"prompt\", \"completion\"} or "
                  "{\"text\"}; usually with --peft lora; dev perplexity)")
      ->capture_default_str();
  sub->add_option("--model,-m", t.model_dir,
                  "Model directory (config.json, weights, tokenizer) or a shipped model's name (default: xling-mini)");
  sub->add_option("--train", t.train_path, "Training rows (.jsonl, or .tsv/.csv with a header line; mlm: also .txt)")
      ->check(kExistingPath);
  sub->add_option("--eval", t.eval_paths, "Dev/test files evaluated at the end (and every --eval-steps); repeatable")
      ->check(kExistingPath);
  sub->add_option("--eval-dir", opt->eval_dir, "A directory of .jsonl files (one per language), all evaluated; "
                  "the final per-file table is printed")->check(CLI::ExistingDirectory);
  sub->add_option("--output,-o", t.output_dir, "Output directory (HF layout: config.json, model.safetensors, tokenizer)");
  sub->add_option("--epochs", t.epochs, "Passes over the training rows")->capture_default_str();
  sub->add_option("--max-steps", t.max_steps, "Stop after N optimizer updates (overrides --epochs)");
  sub->add_option("--batch-size", t.batch_size, "Rows per batch")->capture_default_str();
  sub->add_option("--grad-accum", t.grad_accum, "Batches per optimizer update")->capture_default_str();
  sub->add_option("--lr", t.lr, "Peak learning rate")->capture_default_str();
  sub->add_option("--weight-decay", t.weight_decay, "AdamW decoupled weight decay")->capture_default_str();
  sub->add_flag("--decay-all-params", t.decay_all,
                "Decay biases and LayerNorm weights too (plain torch AdamW; default: HF Trainer's exclusions)");
  sub->add_option("--layer-lr-decay", t.layer_lr_decay,
                  "Layer-wise lr decay d: head lr, layer i of L lr*d^(L-i), embeddings lr*d^(L+1) (1 = off)")
      ->capture_default_str();
  sub->add_option("--metric-for-best", t.metric_for_best,
                  "Keep the best model in OUTPUT/best by a metric of the first --eval file (accuracy, macro_f1, mrr@10, "
                  "spearman, perplexity, ... or loss)");
  sub->add_option("--early-stopping-patience", t.early_stopping_patience,
                  "With --metric-for-best: stop after N evaluations without improvement");
  sub->add_option("--warmup-steps", t.warmup_steps, "Linear warmup updates")->capture_default_str();
  sub->add_option("--scheduler", opt->scheduler, "linear, cosine or constant (after warmup)")->capture_default_str();
  sub->add_option("--max-grad-norm", t.max_grad_norm, "Clip the global gradient norm (0 = off)")->capture_default_str();
  sub->add_option("--seed", t.seed, "Seed of data order, new-head init and dropout")->capture_default_str();
  sub->add_flag("--no-shuffle{false}", t.shuffle, "Keep the file order exactly (no shuffling, no length bucketing)");
  sub->add_option("--max-length", t.max_length, "Truncate texts to N tokens (default: the model's maximum)");
  sub->add_option("--eval-steps", t.eval_steps, "Evaluate the --eval files every N updates (0 = at the end only)");
  sub->add_option("--save-steps", t.save_steps,
                  "Every N updates write OUTPUT/checkpoint-N (model + optimizer/data/RNG state) for --resume");
  sub->add_option("--save-total-limit", t.save_total_limit, "Keep only the last N checkpoints (0 = all)");
  sub->add_flag("--resume", t.resume,
                "Continue from the newest OUTPUT/checkpoint-N (same options): the result equals an uninterrupted run");
  sub->add_option("--log", t.log_path, "JSONL log: one {step, loss, grad_norm, lr, epoch} line per update");
  sub->add_option("--dump-grads", t.dump_grads_dir, "Write the first update's gradients (before clipping) to DIR/grads.safetensors");
  sub->add_option("--device", opt->device, "cpu, cuda or cuda:N")->capture_default_str();
  sub->add_option("--peft", t.peft,
                  "none (all weights), lora (LoRA + head; saves a PEFT adapter), bitfit (biases + head), adapter "
                  "(bottleneck adapters + head, frozen base), prompt (soft prompt + head; PEFT prompt tuning)")
      ->capture_default_str();
  sub->add_option("--adapter-kind", t.adapter_kind, "--peft adapter: pfeiffer (after the FFN) or houlsby (also after "
                  "attention)")->capture_default_str();
  sub->add_option("--adapter-reduction", t.adapter_reduction, "--peft adapter: bottleneck = hidden size / N")
      ->capture_default_str();
  sub->add_option("--num-virtual-tokens", t.num_virtual_tokens, "--peft prompt: soft prompt length")->capture_default_str();
  sub->add_option("--lora-r", t.lora_r, "LoRA rank")->capture_default_str();
  sub->add_option("--lora-alpha", t.lora_alpha, "LoRA alpha (scaling = alpha / r)")->capture_default_str();
  sub->add_option("--lora-targets", t.lora_targets, "Linear layers given LoRA, by name suffix (comma-separated; default query,value; "
                  "causal-lm: q_proj,v_proj, BLOOM query_key_value)")
      ->delimiter(',');
  sub->add_option("--lora-dropout", t.lora_dropout, "Dropout on the LoRA branch's input (training only)")
      ->capture_default_str();
  sub->add_option("--loss", t.loss,
                  "bi-encoder: mnrl, mnrl-symmetric, cosent, cosine; cross-encoder: bce, listwise (default: by the rows)");
  sub->add_option("--scale", t.scale, "bi-encoder: similarity scale of mnrl/cosent")->capture_default_str();
  sub->add_option("--margin", t.margin, "bi-encoder mnrl: additive margin on the positive (LaBSE)")->capture_default_str();
  sub->add_option("--pooling", t.pooling, "bi-encoder from a plain HF encoder: cls, mean, max, mean_sqrt_len, lasttoken "
                  "(default: the directory's, else mean)");
  sub->add_flag("--normalize", t.normalize, "bi-encoder: add a Normalize module (unit-length embeddings)");
  sub->add_option("--mlm-probability", t.mlm_probability, "mlm: share of tokens (or words) masked")->capture_default_str();
  sub->add_flag("--whole-word-mask", t.whole_word_mask, "mlm: mask whole words");
  sub->add_option("--src-lang", t.src_lang, "seq2seq: source language code of the tokenizer (fra_Latn, fr, fr_XX)");
  sub->add_option("--tgt-lang", t.tgt_lang, "seq2seq: target language code (forced first token / target prefix)");
  sub->add_option("--label-smoothing", t.label_smoothing, "seq2seq: label smoothing of the cross-entropy (HF's "
                  "label_smoothing_factor)")->capture_default_str();
  sub->add_option("--eval-max-new-tokens", t.eval_max_new_tokens, "seq2seq: new-token limit of the greedy translations "
                  "scored on eval files")->capture_default_str();
  sub->add_flag("--label-all-tokens", t.label_all_tokens,
                "token-cls rows given as words: label every sub-token (default: the first; -100 after)");
  sub->add_option("--multitask", t.multitask_path,
                  "JSON file of several tasks sharing the encoder ({\"tasks\": [{\"name\", \"task\", \"train\", \"eval\", "
                  "\"weight\"}], \"sampling\": round-robin|proportional, \"loss_weighting\": equal|proportional|fixed}); "
                  "writes OUTPUT/<name>/ per task")
      ->check(kExistingPath);
  sub->add_flag("--init-from-config", t.init_from_config,
                "Train from scratch: use only --model's config.json and tokenizer, every weight initialised as HF's "
                "_init_weights (seeded by --seed)");
  sub->add_flag("--bf16", t.bf16, "bf16 autocast for forward/backward (weights and optimizer stay fp32)");
  sub->add_flag("--merge-adapter", t.merge_adapter, "With --peft lora: save the merged full model instead of the adapter");
  sub->add_flag("--dry-run", t.dry_run, "Print the plan (rows, tokens, updates, parameters) and stop");
  sub->add_flag("--quiet,-q", t.quiet, "No progress bar");
  commands.push_back({sub, [opt] {
    opt->t.model_dir = io::resolve_model(opt->t.model_dir);  // "" = the embedded default model
    return run_finetune(*opt);
  }});
}

}  // namespace xling::cli
