// Fine-tuning loop (see trainer.hpp). Shapes: B batch, T tokens, L labels.
#include "train/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>

#include <ATen/autocast_mode.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/json.hpp"
#include "core/memory.hpp"
#include "core/progress.hpp"
#include "io/bert_config.hpp"
#include "io/checkpoint.hpp"
#include "io/safetensors_writer.hpp"
#include "layers/weights.hpp"
#include "layers/modules.hpp"
#include "models/adapters.hpp"
#include "models/peft.hpp"
#include "models/registry.hpp"
#include "train/hf_output.hpp"
#include "train/adamw.hpp"
#include "xling/errors.hpp"

namespace fs = std::filesystem;

namespace xling::train {
namespace {

// Newest complete checkpoint-N folder of `output` (empty when none).
std::string latest_checkpoint(const std::string& output) {
  std::error_code ec;
  if (!fs::is_directory(output, ec)) return "";
  int64_t best = -1;
  std::string path;
  for (const auto& e : fs::directory_iterator(output, ec)) {
    const auto name = e.path().filename().string();
    if (!e.is_directory() || name.rfind("checkpoint-", 0) != 0) continue;
    if (!fs::exists(e.path() / "trainer_state.json")) continue;
    try {
      const int64_t n = std::stoll(name.substr(11));
      if (n > best) {
        best = n;
        path = e.path().string();
      }
    } catch (const std::exception&) {
    }
  }
  return path;
}

// What every PEFT method's adapter_config.json records about the run.
models::AdapterBase adapter_base(const TrainOptions& opt, const Objective& obj) {
  models::AdapterBase c;
  c.task_type = obj.peft_task_type();
  c.base_model_name_or_path = opt.model_dir;
  c.modules_to_save = obj.head_modules();
  return c;
}

// LoRA on the Linear layers named by opt.lora_targets (A ~ kaiming-uniform as PEFT initialises
// it, B = 0: training starts from the loaded model's function). Returns PEFT's config.
models::LoraConfig add_lora(const TrainOptions& opt, const Objective& obj, torch::nn::Module& module,
                            const std::string& architecture) {
  models::LoraConfig lora;
  if (opt.lora_r < 1) throw InvalidArgument("--lora-r must be at least 1");
  if (!(opt.lora_dropout >= 0 && opt.lora_dropout < 1)) {
    throw InvalidArgument(fmt::format("--lora-dropout must be in [0, 1), got {}", opt.lora_dropout));
  }
  lora.r = opt.lora_r;
  lora.lora_alpha = opt.lora_alpha;
  lora.lora_dropout = opt.lora_dropout;
  lora.target_modules = opt.lora_targets;
  static_cast<models::AdapterBase&>(lora) = adapter_base(opt, obj);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(opt.seed + 17);
  int n = 0;
  torch::NoGradGuard ng;
  for (const auto& item : module.named_modules()) {
    // The selection apply_adapter uses when the adapter is loaded: target suffixes, heads excluded.
    auto* lin = dynamic_cast<layers::LinearImpl*>(item.value().get());
    if (!lin || !lora.targets(item.key())) continue;
    const auto in = lin->weight.size(1), out_dim = lin->weight.size(0);
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));  // kaiming_uniform_(a=sqrt(5))
    auto a = torch::empty({opt.lora_r, in}).uniform_(-bound, bound, gen).to(lin->weight.options());  // CPU RNG
    auto b = torch::zeros({out_dim, opt.lora_r}, lin->weight.options());
    lin->set_lora(a, b, opt.lora_alpha / static_cast<double>(opt.lora_r));
    lin->lora_dropout = opt.lora_dropout;
    ++n;
  }
  if (n == 0) {
    throw InvalidArgument(fmt::format("--lora-targets {} match no Linear layer of {}", fmt::join(opt.lora_targets, ","),
                                      architecture));
  }
  return lora;
}

// Autocast to bf16 for the forward/backward of one batch (weights, gradients and the
// optimizer stay fp32), as torch.autocast(device_type, dtype=torch.bfloat16).
class AutocastScope {
 public:
  AutocastScope(bool on, const torch::Device& device) : on_(on), type_(device.type()) {
    if (!on_) return;
    was_enabled_ = at::autocast::is_autocast_enabled(type_);
    was_dtype_ = at::autocast::get_autocast_dtype(type_);
    at::autocast::set_autocast_enabled(type_, true);
    at::autocast::set_autocast_dtype(type_, torch::kBFloat16);
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (!on_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_autocast_enabled(type_, was_enabled_);
    at::autocast::set_autocast_dtype(type_, was_dtype_);
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool on_;
  c10::DeviceType type_;
  bool was_enabled_ = false;
  torch::ScalarType was_dtype_ = torch::kBFloat16;
};

}  // namespace

TrainResult finetune(const TrainOptions& opt, const std::function<void(const std::string&)>& report_fn) {
  auto report = [&](const std::string& s) {
    if (report_fn) report_fn(s);
  };
  if (opt.batch_size == 0) throw InvalidArgument("--batch-size must be at least 1");
  if (opt.grad_accum < 1) throw InvalidArgument("--grad-accum must be at least 1");
  if (!(opt.lr > 0)) throw InvalidArgument(fmt::format("--lr must be positive, got {}", opt.lr));
  if (opt.peft != "none" && opt.peft != "lora" && opt.peft != "bitfit" && opt.peft != "adapter" && opt.peft != "prompt") {
    throw InvalidArgument(fmt::format("--peft '{}' is not one of none, lora, bitfit, adapter, prompt", opt.peft));
  }
  if (opt.peft == "prompt" && opt.task != Task::kSeqCls && opt.task != Task::kPairCls && opt.task != Task::kTokenCls &&
      opt.task != Task::kCrossEncoder) {
    throw InvalidArgument(fmt::format("--peft prompt is for classification tasks (seq-cls, pair-cls, token-cls, "
                                      "cross-encoder), not {}", task_name(opt.task)));
  }
  if (opt.layer_lr_decay != 1.0 && !(opt.layer_lr_decay > 0.0 && opt.layer_lr_decay <= 1.0)) {
    throw InvalidArgument(fmt::format("--layer-lr-decay must be in (0, 1], got {}", opt.layer_lr_decay));
  }
  if (!opt.metric_for_best.empty() && (opt.eval_paths.empty() || opt.eval_steps <= 0)) {
    throw InvalidArgument("--metric-for-best needs --eval files and --eval-steps");
  }
  if (!opt.multitask_path.empty() && opt.peft != "none") {
    throw InvalidArgument("--multitask trains the shared encoder and every head: --peft is not supported with it");
  }
  TrainResult result;
  std::string resume_from;
  if (opt.resume) {
    if (opt.output_dir.empty()) throw InvalidArgument("--resume needs --output (where the checkpoints are)");
    resume_from = latest_checkpoint(opt.output_dir);
    if (resume_from.empty()) report(fmt::format("--resume: no checkpoint in {}; starting from the beginning", opt.output_dir));
    else report(fmt::format("resuming from {}", resume_from));
  }
  // The task reads its rows and loads the model into its class (a resumed run: the checkpoint).
  auto objective = make_objective(opt, resume_from.empty() ? opt.model_dir : resume_from, report);
  Objective& obj = *objective;
  models::LoadedModel& m = obj.model();
  result.initialized = m.report.initialized;
  result.unused = m.report.unused;
  if (opt.init_from_config && resume_from.empty()) {
    report(fmt::format("training from scratch: {} parameter tensors initialised as HF's _init_weights (seed {})",
                       m.report.initialized.size(), opt.seed));
  } else if (!m.report.initialized.empty()) {
    report(fmt::format("initialised as HF does (new head): {}", fmt::join(m.report.initialized, ", ")));
  }
  if (!m.report.unused.empty()) report(fmt::format("checkpoint tensors not used: {}", fmt::join(m.report.unused, ", ")));

  // PEFT modules start as the identity (LoRA B = 0, adapters' up = 0) or, for a soft prompt,
  // as PEFT's RANDOM init; each method's config is what its adapter directory records.
  models::LoraConfig lora;
  models::BottleneckConfig bottleneck;
  models::PromptTuningConfig prompt;
  if (opt.peft == "lora") lora = add_lora(opt, obj, *m.module, m.architecture);
  if (opt.peft == "adapter") {
    static_cast<models::AdapterBase&>(bottleneck) = adapter_base(opt, obj);
    if (opt.adapter_kind == "houlsby") bottleneck.kind = models::BottleneckKind::kHoulsby;
    else if (opt.adapter_kind != "pfeiffer") {
      throw InvalidArgument(fmt::format("--adapter-kind '{}' is not pfeiffer or houlsby", opt.adapter_kind));
    }
    bottleneck.reduction_factor = static_cast<double>(opt.adapter_reduction);
    const int n = models::add_bottleneck_adapters(*m.module, bottleneck, opt.seed + 23);
    report(fmt::format("{} {} adapters (bottleneck {})", n, opt.adapter_kind,
                       bottleneck.bottleneck_size(dynamic_cast<const io::BertConfig&>(*m.config).hidden_size)));
  }
  if (opt.peft == "prompt") {
    static_cast<models::AdapterBase&>(prompt) = adapter_base(opt, obj);
    const auto& bert = dynamic_cast<const io::BertConfig&>(*m.config);
    prompt.num_virtual_tokens = opt.num_virtual_tokens;
    prompt.token_dim = bert.hidden_size;
    prompt.num_attention_heads = bert.num_attention_heads;
    prompt.num_layers = bert.num_hidden_layers;
    models::add_prompt_tuning(*m.module, opt.num_virtual_tokens, opt.seed + 29);
  }
  const auto heads = obj.head_modules();
  auto trainable = [&](const std::string& name) {
    if (opt.peft == "none") return true;
    for (const auto& h : heads) {
      if (name.rfind(h + ".", 0) == 0) return true;  // the task head always trains
    }
    if (opt.peft == "bitfit") return name.ends_with("bias");
    return models::is_peft_parameter(name);
  };
  // Parameters: HF names; frozen ones keep requires_grad off and stay out of the optimizer.
  std::vector<std::pair<std::string, torch::Tensor>> params;
  std::vector<bool> decay;
  const auto all_params = obj.parameters();
  for (const auto& [name, p] : all_params) {
    result.total_params += p.numel();
    const bool train_it = trainable(name);
    // Mapped checkpoint tensors are copy-on-write: training writes only touch private pages.
    p.set_requires_grad(train_it);
    if (!train_it) continue;
    params.emplace_back(name, p);
    decay.push_back(decays(name, opt.decay_all));
    result.trainable_params += p.numel();
  }
  const auto batches_per_epoch = static_cast<int64_t>((obj.train_size() + opt.batch_size - 1) / opt.batch_size);
  const int64_t updates_per_epoch = std::max<int64_t>(1, batches_per_epoch / opt.grad_accum);
  const int64_t total = opt.max_steps > 0 ? opt.max_steps : updates_per_epoch * opt.epochs;
  result.planned_steps = total;
  std::size_t train_tokens = 0;
  for (std::size_t i = 0; i < obj.train_size(); ++i) train_tokens += obj.row_tokens(i);
  report(fmt::format("{} {}: {} train rows ({} tokens), {}, {} updates of {} x {} rows, {} trainable / {} parameters{}",
                     task_name(opt.task), m.architecture, obj.train_size(), train_tokens, obj.describe(), total,
                     opt.batch_size, opt.grad_accum, result.trainable_params, result.total_params,
                     opt.peft != "none" ? fmt::format(" ({})", opt.peft) : ""));
  if (opt.dry_run) return result;

  torch::manual_seed(opt.seed);
  AdamW optimizer(params, decay, AdamWOptions{0.9, 0.999, 1e-8, opt.weight_decay});
  if (opt.layer_lr_decay != 1.0) {
    const auto* bert = dynamic_cast<const io::BertConfig*>(m.config.get());
    const int64_t layers = bert ? bert->num_hidden_layers : 0;
    std::vector<double> scales;
    for (const auto& [name, p] : params) {
      int64_t depth = layers;  // head, pooler: the full rate
      if (name.find("embeddings.") != std::string::npos) depth = -1;
      if (auto pos = name.find("encoder.layer."); pos != std::string::npos) depth = std::stoll(name.substr(pos + 14));
      scales.push_back(std::pow(opt.layer_lr_decay, static_cast<double>(layers - depth)));
    }
    optimizer.set_lr_scales(std::move(scales));
  }
  double best_value = 0;
  int64_t best_step = -1;
  int evals_without_gain = 0;
  bool stop_early = false;
  int start_epoch = 0;
  std::size_t start_batch = 0;
  int64_t step = 0;
  std::string log_text;
  if (!resume_from.empty()) {
    auto state = core::read_json_file((fs::path(resume_from) / "trainer_state.json").string());
    step = state.at("step").get<int64_t>();
    start_epoch = state.at("epoch").get<int>();
    start_batch = state.at("batch").get<std::size_t>();
    log_text = state.value("log", "");
    if (state.value("seed", opt.seed) != opt.seed || state.value("batch_size", opt.batch_size) != opt.batch_size ||
        state.value("planned_steps", total) != total || state.value("peft", opt.peft) != opt.peft) {
      throw InvalidArgument(fmt::format("{}: saved with another --seed, --batch-size, --peft or step count; resume with "
                                        "the options of the interrupted run", resume_from));
    }
    auto opt_file = io::Checkpoint::open((fs::path(resume_from) / "optimizer.safetensors").string());
    std::map<std::string, torch::Tensor> moments;
    for (const auto& n : opt_file.names()) {
      if (n != "rng_state") moments[n] = layers::tensor_from_view(opt_file.at(n), opt_file.owner(n));
    }
    optimizer.load_state(moments, step);
    if (opt_file.find("rng_state")) {
      auto rng = layers::tensor_from_view(opt_file.at("rng_state"), opt_file.owner("rng_state")).clone();
      auto gen = at::globalContext().defaultGenerator(torch::kCPU);  // a handle to the global generator
      gen.set_state(rng);
    }
    // PEFT tensors (LoRA, adapters, prompts) are not part of the HF model files: restore them.
    const fs::path peft_file = fs::path(resume_from) / "peft_state.safetensors";
    if (fs::exists(peft_file)) {
      auto saved = io::Checkpoint::open(peft_file.string());
      torch::NoGradGuard ng;
      for (const auto& [name, p] : all_params) {
        if (!models::is_peft_parameter(name)) continue;
        if (!saved.find(name)) throw InvalidArgument(fmt::format("{}: no tensor '{}'", peft_file.string(), name));
        p.detach().copy_(layers::tensor_from_view(saved.at(name), saved.owner(name)));
      }
    }
  }
  // The log grows line by line (flushed), so a long run can be watched and a crash keeps what
  // happened; a resumed run rewrites it from the checkpoint's copy and goes on.
  std::unique_ptr<std::ofstream> log;
  if (!opt.log_path.empty()) {
    log = std::make_unique<std::ofstream>(opt.log_path, std::ios::binary | std::ios::trunc);
    if (!*log) throw IoError(fmt::format("{}: cannot write the log", opt.log_path));
    *log << log_text << std::flush;
  }
  const bool keep_log = log || opt.save_steps > 0;
  auto add_log_line = [&](const std::string& line) {
    log_text += line + "\n";
    if (log) *log << line << "\n" << std::flush;
  };

  // OUTPUT/checkpoint-<step>: model dir + trainer state; `next_epoch`/`next_batch` say where the
  // data order continues.
  auto save_checkpoint = [&](int next_epoch, std::size_t next_batch) {
    const fs::path final_dir = fs::path(opt.output_dir) / fmt::format("checkpoint-{}", step);
    const fs::path tmp_dir = fs::path(opt.output_dir) / fmt::format(".checkpoint-{}.tmp", step);
    fs::remove_all(tmp_dir);
    obj.save(tmp_dir.string());
    NamedTensorList peft_tensors;
    for (const auto& [name, p] : all_params) {
      if (models::is_peft_parameter(name)) peft_tensors.emplace_back(name, p);
    }
    if (!peft_tensors.empty()) write_tensors(tmp_dir / "peft_state.safetensors", peft_tensors);
    const auto moments = optimizer.state();
    {
      std::vector<torch::Tensor> keep;
      std::vector<io::TensorToWrite> out;
      for (const auto& [name, t] : moments) {
        keep.push_back(t.detach().to(torch::kCPU).contiguous());
        out.push_back({name, DType::kF32, keep.back().sizes().vec(), keep.back().data_ptr(),
                       static_cast<std::size_t>(keep.back().nbytes())});
      }
      keep.push_back(at::globalContext().defaultGenerator(torch::kCPU).get_state().contiguous());
      out.push_back({"rng_state", DType::kU8, keep.back().sizes().vec(), keep.back().data_ptr(),
                     static_cast<std::size_t>(keep.back().nbytes())});
      io::write_safetensors((tmp_dir / "optimizer.safetensors").string(), out);
    }
    nlohmann::json state = {{"step", step},       {"epoch", next_epoch},          {"batch", next_batch},
                            {"seed", opt.seed},   {"batch_size", opt.batch_size}, {"planned_steps", total},
                            {"peft", opt.peft},   {"log", log_text}};
    write_json(tmp_dir / "trainer_state.json", state);
    fs::remove_all(final_dir);
    fs::rename(tmp_dir, final_dir);
    if (opt.save_total_limit > 0) {  // drop the oldest beyond the limit
      std::vector<std::pair<int64_t, fs::path>> all;
      for (const auto& e : fs::directory_iterator(opt.output_dir)) {
        const auto name = e.path().filename().string();
        if (e.is_directory() && name.rfind("checkpoint-", 0) == 0) all.emplace_back(std::stoll(name.substr(11)), e.path());
      }
      std::sort(all.begin(), all.end());
      for (std::size_t i = 0; i + static_cast<std::size_t>(opt.save_total_limit) < all.size(); ++i) fs::remove_all(all[i].second);
    }
    // For the kill-and-resume test: die right after a complete checkpoint, as SIGKILL would.
    if (const char* kill_at = std::getenv("XLING_TEST_KILL_AFTER_CHECKPOINT")) {
      if (std::to_string(step) == kill_at) std::raise(SIGKILL);
    }
  };

  // The final model (or the best one): the task's layout, or PEFT's adapter layout for LoRA.
  auto save_model = [&](const std::string& dir, bool final) {
    const std::string prefix = models::base_model_prefix(*m.module);
    if (opt.peft == "adapter" || opt.peft == "prompt") {
      // The adapter directory (+ config and tokenizer); `xling forward --adapter` applies it,
      // peft.PeftModel loads a prompt one.
      if (opt.peft == "adapter") models::save_adapter(dir, *m.module, bottleneck, prefix);
      else models::save_adapter(dir, *m.module, prompt, prefix);
      obj.save_config(dir);
    } else if (opt.peft == "lora" && !opt.merge_adapter) {
      // adapter_config.json + adapter_model.safetensors (LoRA + the head), loadable by
      // peft.PeftModel and `xling forward --adapter`; config/tokenizer for convenience.
      models::save_adapter(dir, *m.module, lora, models::base_model_prefix(*m.module));
      obj.save_config(dir);
    } else if (opt.peft == "lora") {
      if (!final) {
        obj.save(dir);  // (LoRA not folded in; the best checkpoint of a merged run is its adapter dir)
        models::save_adapter(dir, *m.module, lora, models::base_model_prefix(*m.module));
        return;
      }
      models::merge_adapter(*m.module);
      obj.save(dir);
    } else {
      obj.save(dir);
    }
  };

  auto evaluate = [&](int64_t step) {
    torch::NoGradGuard ng;
    obj.set_training(false);
    for (std::size_t f = 0; f < obj.eval_files(); ++f) {
      EvalRecord r;
      r.file = obj.eval_path(f);
      r.step = step;
      {
        AutocastScope autocast(opt.bf16, m.device);
        r.result = obj.evaluate(f, opt.batch_size);
      }
      result.evals.push_back(r);
      if (f == 0 && !opt.metric_for_best.empty()) {
        const double raw = r.result.metric(opt.metric_for_best);
        if (std::isnan(raw) && opt.metric_for_best != "loss") {
          std::vector<std::string> names{"loss"};
          for (const auto& [k, v] : r.result.metrics) names.push_back(k);
          throw InvalidArgument(fmt::format("--metric-for-best '{}' is not measured by {} (it has: {})",
                                            opt.metric_for_best, task_name(opt.task), fmt::join(names, ", ")));
        }
        // loss and perplexity: lower is better; every other metric: higher.
        const double v = opt.metric_for_best == "loss" || opt.metric_for_best == "perplexity" ? -raw : raw;
        if (step == 0) {
          // the starting point is not a candidate
        } else if (best_step < 0 || v > best_value) {
          best_value = v;
          best_step = step;
          evals_without_gain = 0;
          if (!opt.output_dir.empty()) save_model((fs::path(opt.output_dir) / "best").string(), false);
          report(fmt::format("best {} so far at step {}: saved {}/best", opt.metric_for_best, step, opt.output_dir));
        } else if (opt.early_stopping_patience > 0 && ++evals_without_gain >= opt.early_stopping_patience) {
          stop_early = true;
          report(fmt::format("early stopping at step {}: no better {} in {} evaluations (best at step {})", step,
                             opt.metric_for_best, evals_without_gain, best_step));
        }
      }
      std::string shown;
      for (const auto& [k, v] : r.result.metrics) shown += fmt::format(", {} {:.4f}", k, v);
      if (keep_log) {
        nlohmann::json line = {{"eval", r.file}, {"step", r.step}, {"rows", r.result.examples}, {"loss", r.result.loss}};
        for (const auto& [k, v] : r.result.metrics) line[k] = v;
        add_log_line(line.dump());
      }
      report(fmt::format("eval {} at step {}: loss {:.4f}{} ({} rows)", r.file, step, r.result.loss, shown, r.result.examples));
    }
    obj.set_training(true);
  };

  if (opt.eval_steps > 0 && step == 0) evaluate(0);  // the starting point, to see training help
  obj.set_training(true);
  core::Progress progress("finetune", static_cast<std::size_t>(total), !opt.quiet);
  std::size_t seen_rows = 0, seen_tokens = 0;
  const int64_t first_step = step;  // > 0 when resumed
  const auto t_start = std::chrono::steady_clock::now();
  progress.advance(static_cast<std::size_t>(step));
  for (int epoch = start_epoch; step < total; ++epoch) {
    auto batches = obj.epoch_batches(opt.batch_size, opt.shuffle, opt.seed, epoch);
    for (std::size_t bi = epoch == start_epoch ? start_batch : 0;
         bi + static_cast<std::size_t>(opt.grad_accum) <= batches.size() && step < total;
         bi += static_cast<std::size_t>(opt.grad_accum)) {
      optimizer.zero_grad();
      double loss_sum = 0;
      for (int a = 0; a < opt.grad_accum; ++a) {
        BatchLoss b;
        {
          AutocastScope autocast(opt.bf16, m.device);
          b = obj.loss(batches[bi + static_cast<std::size_t>(a)]);
        }
        seen_rows += b.rows;
        seen_tokens += b.tokens;
        loss_sum += b.loss.item<double>();
        (opt.grad_accum > 1 ? b.loss / static_cast<double>(opt.grad_accum) : b.loss).backward();
      }
      if (step == 0 && !opt.dump_grads_dir.empty()) {
        std::vector<std::pair<std::string, torch::Tensor>> grads;
        for (const auto& [name, p] : params) {
          grads.emplace_back(name, p.grad().defined() ? p.grad() : torch::zeros_like(p));
        }
        fs::create_directories(opt.dump_grads_dir);
        write_tensors(fs::path(opt.dump_grads_dir) / "grads.safetensors", grads);
      }
      const double norm = clip_grad_norm(params, opt.max_grad_norm);
      const double lr = opt.lr * lr_factor(opt.schedule, step, opt.warmup_steps, total);
      optimizer.step(lr);
      ++step;
      StepRecord rec{step, loss_sum / opt.grad_accum, norm, lr,
                     epoch + static_cast<double>(bi + static_cast<std::size_t>(opt.grad_accum)) / static_cast<double>(batches.size())};
      result.steps.push_back(rec);
      if (keep_log) {
        nlohmann::json line = {{"step", rec.step}, {"loss", rec.loss}, {"grad_norm", rec.grad_norm}, {"lr", rec.lr},
                               {"epoch", rec.epoch}};
        add_log_line(line.dump());
      }
      progress.set_label(fmt::format("finetune epoch {:.2f} loss {:.4f} lr {:.2e}", rec.epoch, rec.loss, rec.lr));
      progress.advance();
      if (opt.eval_steps > 0 && step % opt.eval_steps == 0 && step < total) evaluate(step);
      if (stop_early) break;
      if (opt.save_steps > 0 && step % opt.save_steps == 0 && step < total && !opt.output_dir.empty()) {
        const std::size_t next = bi + static_cast<std::size_t>(opt.grad_accum);
        if (next + static_cast<std::size_t>(opt.grad_accum) <= batches.size()) save_checkpoint(epoch, next);
        else save_checkpoint(epoch + 1, 0);
      }
    }
    if (batches.empty() || stop_early) break;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  result.train_seconds = secs;
  report(fmt::format("trained {} updates{} in {:.2f} s: {:.1f} samples/s, {:.0f} tokens/s; peak RSS {:.0f} MB",
                     step - first_step, first_step ? fmt::format(" (resumed after {})", first_step) : "", secs,
                     static_cast<double>(seen_rows) / secs, static_cast<double>(seen_tokens) / secs,
                     static_cast<double>(core::peak_rss_bytes()) / 1e6));
  if (log) {
    log->flush();
    if (!*log) throw IoError(fmt::format("{}: writing the log failed", opt.log_path));
  }
  if (obj.eval_files() > 0) {
    const std::size_t first = result.evals.size();
    evaluate(step);
    if (obj.eval_files() > 1) {  // the per-file (per-language) table of the final model
      std::vector<std::string> names;  // every metric of any file (multitask files differ)
      for (std::size_t i = first; i < result.evals.size(); ++i) {
        for (const auto& [k, v] : result.evals[i].result.metrics) {
          if (std::find(names.begin(), names.end(), k) == names.end()) names.push_back(k);
        }
      }
      std::string table = fmt::format("{:<28} {:>6}", "eval file", "rows");
      for (const auto& k : names) table += fmt::format(" {:>10}", k);
      table += fmt::format(" {:>8}\n", "loss");
      for (std::size_t i = first; i < result.evals.size(); ++i) {
        const auto& r = result.evals[i];
        table += fmt::format("{:<28} {:>6}", fs::path(r.file).stem().string(), r.result.examples);
        for (const auto& k : names) {
          const double v = r.result.metric(k);
          table += std::isnan(v) ? fmt::format(" {:>10}", "-") : fmt::format(" {:>10.4f}", v);
        }
        table += fmt::format(" {:>8.4f}\n", r.result.loss);
      }
      report("final evaluation\n" + table);
    }
  }
  obj.set_training(false);
  if (!opt.output_dir.empty()) save_model(opt.output_dir, true);
  return result;
}

}  // namespace xling::train
