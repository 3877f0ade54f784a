// Fine-tuning loop (see trainer.hpp). Shapes: B batch, T tokens, L labels.
#include "train/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/atomic_file.hpp"
#include "core/json.hpp"
#include "core/memory.hpp"
#include "core/progress.hpp"
#include "io/bert_config.hpp"
#include "io/checkpoint.hpp"
#include "io/safetensors_writer.hpp"
#include "layers/weights.hpp"
#include "metrics/classification.hpp"
#include "layers/modules.hpp"
#include "models/peft.hpp"
#include "models/registry.hpp"
#include "tasks/batching.hpp"
#include "train/adamw.hpp"
#include "xling/errors.hpp"

namespace fs = std::filesystem;

namespace xling::train {
namespace {

struct TrainBatch {
  models::NamedTensors inputs;  // input_ids, attention_mask, token_type_ids, labels
  std::size_t tokens = 0;
};

TrainBatch make_batch(const std::vector<Example>& rows, const std::vector<std::size_t>& idx, int64_t pad_id, Task task,
                      LabelKind kind, const torch::Device& device) {
  std::size_t t = 0;
  for (auto i : idx) t = std::max(t, rows[i].input_ids.size());
  const auto b = static_cast<int64_t>(idx.size()), tt = static_cast<int64_t>(std::max<std::size_t>(t, 1));
  auto ids = torch::full({b, tt}, pad_id, torch::kLong);
  auto mask = torch::zeros({b, tt}, torch::kLong);
  auto types = torch::zeros({b, tt}, torch::kLong);
  torch::Tensor labels;
  if (task == Task::kTokenCls) labels = torch::full({b, tt}, -100, torch::kLong);
  else if (kind == LabelKind::kSingle) labels = torch::zeros({b}, torch::kLong);
  else labels = torch::zeros({b, static_cast<int64_t>(rows[idx[0]].targets.size())}, torch::kFloat32);
  TrainBatch out;
  for (int64_t r = 0; r < b; ++r) {
    const Example& e = rows[idx[static_cast<std::size_t>(r)]];
    const auto n = static_cast<int64_t>(e.input_ids.size());
    out.tokens += e.input_ids.size();
    if (n > 0) {
      ids[r].narrow(0, 0, n).copy_(torch::tensor(e.input_ids, torch::kLong));
      types[r].narrow(0, 0, n).copy_(torch::tensor(e.token_type_ids, torch::kLong));
      mask[r].narrow(0, 0, n).fill_(1);
    }
    if (task == Task::kTokenCls) {
      if (n > 0) labels[r].narrow(0, 0, n).copy_(torch::tensor(e.labels, torch::kLong));
    } else if (kind == LabelKind::kSingle) {
      labels[r] = e.labels[0];
    } else {
      labels[r].copy_(torch::tensor(e.targets, torch::kFloat32));
    }
  }
  if (kind == LabelKind::kRegression && task != Task::kTokenCls) labels = labels.view({b});
  out.inputs = {{"input_ids", ids.to(device)},
                {"attention_mask", mask.to(device)},
                {"token_type_ids", types.to(device)},
                {"labels", labels.to(device)}};
  return out;
}

// The batches of one epoch as lists of row indices. Shuffled: a seeded permutation, then
// length-sorted windows of 50 batches (little padding), then the batches in seeded order.
std::vector<std::vector<std::size_t>> epoch_batches(const std::vector<Example>& rows, std::size_t batch, bool shuffle,
                                                    uint64_t seed, int epoch) {
  std::vector<std::size_t> order(rows.size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed * 1000003ULL + static_cast<uint64_t>(epoch));
  if (shuffle) {
    std::shuffle(order.begin(), order.end(), rng);
    const std::size_t window = batch * 50;
    for (std::size_t s = 0; s < order.size(); s += window) {
      auto end = order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), s + window));
      std::stable_sort(order.begin() + static_cast<std::ptrdiff_t>(s), end,
                       [&](std::size_t a, std::size_t b) { return rows[a].input_ids.size() > rows[b].input_ids.size(); });
    }
  }
  std::vector<std::vector<std::size_t>> out;
  for (std::size_t s = 0; s < order.size(); s += batch) {
    out.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(s),
                     order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), s + batch)));
  }
  if (shuffle) std::shuffle(out.begin(), out.end(), rng);
  return out;
}

std::vector<std::string> config_labels(const io::ModelConfig& c) {
  std::vector<std::string> names;
  for (int64_t i = 0; i < c.num_labels; ++i) {
    auto it = c.id2label.find(i);
    names.push_back(it != c.id2label.end() ? it->second : fmt::format("LABEL_{}", i));
  }
  return names;
}

void write_json(const fs::path& path, const nlohmann::json& j) {
  core::AtomicFile f(path.string());
  f.write(j.dump(2) + "\n");
  f.commit();
}

void write_tensors(const fs::path& path, const std::vector<std::pair<std::string, torch::Tensor>>& named) {
  std::vector<torch::Tensor> keep;
  std::vector<io::TensorToWrite> out;
  keep.reserve(named.size());
  for (const auto& [name, t] : named) {
    keep.push_back(t.detach().to(torch::kCPU, torch::kFloat32).contiguous());
    const auto& c = keep.back();
    out.push_back({name, DType::kF32, c.sizes().vec(), c.data_ptr(), static_cast<std::size_t>(c.nbytes())});
  }
  io::write_safetensors(path.string(), out, {{"format", "pt"}});
}

// An HF model directory: config.json (architectures, labels, problem_type updated),
// model.safetensors (every parameter under its HF name) and the tokenizer files.
void save_hf_config_and_tokenizer(const fs::path& dir, const models::LoadedModel& m, const std::string& source_dir,
                                  const std::vector<std::string>& labels, const std::string& problem_type);

void save_hf_dir(const fs::path& dir, const models::LoadedModel& m, const std::string& source_dir,
                 const std::vector<std::string>& labels, const std::string& problem_type) {
  save_hf_config_and_tokenizer(dir, m, source_dir, labels, problem_type);
  std::vector<std::pair<std::string, torch::Tensor>> named;
  for (const auto& p : m.module->named_parameters()) {
    if (p.key().find(".lora_A.") != std::string::npos || p.key().find(".lora_B.") != std::string::npos) continue;
    named.emplace_back(p.key(), p.value());
  }
  std::sort(named.begin(), named.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  write_tensors(dir / "model.safetensors", named);
}

void save_hf_config_and_tokenizer(const fs::path& dir, const models::LoadedModel& m, const std::string& source_dir,
                                  const std::vector<std::string>& labels, const std::string& problem_type) {
  fs::create_directories(dir);
  auto cfg = core::read_json_file((fs::path(source_dir) / "config.json").string());
  cfg["architectures"] = {m.architecture};
  nlohmann::json id2label = nlohmann::json::object(), label2id = nlohmann::json::object();
  for (std::size_t i = 0; i < labels.size(); ++i) {
    id2label[std::to_string(i)] = labels[i];
    label2id[labels[i]] = i;
  }
  cfg["id2label"] = id2label;
  cfg["label2id"] = label2id;
  if (!problem_type.empty()) cfg["problem_type"] = problem_type;
  cfg.erase("num_labels");
  write_json(dir / "config.json", cfg);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "sentencepiece.bpe.model",
                        "spiece.model", "vocab.txt", "vocab.json", "merges.txt", "added_tokens.json"}) {
    std::error_code ec;
    fs::path src = fs::path(source_dir) / f;
    if (fs::exists(src, ec) && fs::absolute(src) != fs::absolute(dir / f)) {
      fs::copy_file(src, dir / f, fs::copy_options::overwrite_existing);
    }
  }
}

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

}  // namespace

std::string head_architecture(const std::string& arch, Task task) {
  std::string family = arch;
  if (auto p = arch.find("For"); p != std::string::npos) family = arch.substr(0, p);
  else if (arch.size() > 5 && arch.ends_with("Model")) family = arch.substr(0, arch.size() - 5);
  switch (task) {
    case Task::kSeqCls:
    case Task::kPairCls: return family + "ForSequenceClassification";
    case Task::kTokenCls: return family + "ForTokenClassification";
  }
  return arch;
}

TrainResult finetune(const TrainOptions& opt, const std::function<void(const std::string&)>& report_fn) {
  auto report = [&](const std::string& s) {
    if (report_fn) report_fn(s);
  };
  if (opt.batch_size == 0) throw InvalidArgument("--batch-size must be at least 1");
  if (opt.grad_accum < 1) throw InvalidArgument("--grad-accum must be at least 1");
  if (!(opt.lr > 0)) throw InvalidArgument(fmt::format("--lr must be positive, got {}", opt.lr));
  TrainResult result;
  // The model's own config decides the head class and the label names it already has.
  auto base_cfg = io::load_config_any(opt.model_dir);
  if (base_cfg->architectures.empty()) {
    throw InvalidArgument(fmt::format("{}/config.json: no 'architectures'", opt.model_dir));
  }
  const std::string arch = head_architecture(base_cfg->architectures.front(), opt.task);
  const bool had_head = base_cfg->architectures.front() == arch;
  std::shared_ptr<tokenize::Tokenizer> tok;
  if (fs::exists(fs::path(opt.model_dir) / "tokenizer.json")) {
    tok = std::make_shared<tokenize::Tokenizer>(tokenize::Tokenizer::from_file(opt.model_dir));
  }
  LabelSet labels = scan_labels(opt.train_path, opt.task, had_head ? config_labels(*base_cfg) : std::vector<std::string>{});
  std::string problem_type;
  if (opt.task != Task::kTokenCls) {
    problem_type = labels.kind == LabelKind::kRegression ? "regression"
                   : labels.kind == LabelKind::kMulti    ? "multi_label_classification"
                                                         : "single_label_classification";
  }
  ReadOptions ro;
  ro.task = opt.task;
  ro.max_length = opt.max_length > 0 ? opt.max_length : tasks::max_input_tokens(*base_cfg, 512);
  std::size_t truncated = 0;
  ro.truncated = &truncated;
  auto train_rows = read_examples(opt.train_path, tok.get(), labels, ro);
  std::vector<std::vector<Example>> eval_rows;
  for (const auto& p : opt.eval_paths) eval_rows.push_back(read_examples(p, tok.get(), labels, ro));
  if (truncated) report(fmt::format("{} texts truncated to {} tokens", truncated, ro.max_length));

  models::LoadOptions lo;
  lo.architecture = arch;
  lo.strict = false;
  lo.labels = labels.names;
  lo.problem_type = problem_type;
  lo.init_seed = opt.seed;
  lo.device = opt.device;
  std::string resume_from;
  if (opt.resume) {
    if (opt.output_dir.empty()) throw InvalidArgument("--resume needs --output (where the checkpoints are)");
    resume_from = latest_checkpoint(opt.output_dir);
    if (resume_from.empty()) report(fmt::format("--resume: no checkpoint in {}; starting from the beginning", opt.output_dir));
    else report(fmt::format("resuming from {}", resume_from));
  }
  models::LoadedModel m = models::load_model(resume_from.empty() ? opt.model_dir : resume_from, lo);
  result.initialized = m.report.initialized;
  result.unused = m.report.unused;
  if (!m.report.initialized.empty()) {
    report(fmt::format("initialised as HF does (new head): {}", fmt::join(m.report.initialized, ", ")));
  }
  if (!m.report.unused.empty()) report(fmt::format("checkpoint tensors not used: {}", fmt::join(m.report.unused, ", ")));
  if (auto* bert = dynamic_cast<const io::BertConfig*>(m.config.get())) {
    for (const auto& e : train_rows) {
      for (auto id : e.input_ids) {
        if (id < 0 || id >= bert->vocab_size) {
          throw InvalidArgument(fmt::format("{}:{}: token id {} is outside the model's vocabulary [0, {}) — is the "
                                            "tokenizer the model's?", opt.train_path, e.line, id, bert->vocab_size));
        }
      }
    }
  }
  // PEFT: LoRA on the targeted Linear layers (A ~ kaiming-uniform as PEFT initialises it, B = 0,
  // so training starts from the loaded model's function).
  if (opt.peft != "none" && opt.peft != "lora" && opt.peft != "bitfit") {
    throw InvalidArgument(fmt::format("--peft '{}' is not one of none, lora, bitfit", opt.peft));
  }
  models::LoraConfig lora;
  if (opt.peft == "lora") {
    if (opt.lora_r < 1) throw InvalidArgument("--lora-r must be at least 1");
    lora.r = opt.lora_r;
    lora.lora_alpha = opt.lora_alpha;
    lora.target_modules = opt.lora_targets;
    lora.modules_to_save = {"classifier"};
    lora.task_type = opt.task == Task::kTokenCls ? "TOKEN_CLS" : "SEQ_CLS";
    lora.base_model_name_or_path = opt.model_dir;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(opt.seed + 17);
    int n = 0;
    torch::NoGradGuard ng;
    for (const auto& item : m.module->named_modules()) {
      auto* lin = dynamic_cast<layers::LinearImpl*>(item.value().get());
      if (!lin || item.key().rfind("classifier", 0) == 0) continue;
      bool hit = false;
      for (const auto& t : opt.lora_targets) hit = hit || item.key() == t || item.key().ends_with("." + t);
      if (!hit) continue;
      const auto in = lin->weight.size(1), out_dim = lin->weight.size(0);
      const double bound = 1.0 / std::sqrt(static_cast<double>(in));  // kaiming_uniform_(a=sqrt(5))
      auto a = torch::empty({opt.lora_r, in}).uniform_(-bound, bound, gen).to(lin->weight.options());  // CPU RNG
      auto b = torch::zeros({out_dim, opt.lora_r}, lin->weight.options());
      lin->set_lora(a, b, opt.lora_alpha / static_cast<double>(opt.lora_r));
      ++n;
    }
    if (n == 0) {
      throw InvalidArgument(fmt::format("--lora-targets {} match no Linear layer of {}", fmt::join(opt.lora_targets, ","),
                                        m.architecture));
    }
  }
  auto trainable = [&](const std::string& name) {
    if (opt.peft == "none") return true;
    if (name.rfind("classifier", 0) == 0) return true;  // the task head always trains
    if (opt.peft == "lora") return name.find(".lora_A.") != std::string::npos || name.find(".lora_B.") != std::string::npos;
    return name.ends_with("bias");  // bitfit
  };
  // Parameters: HF names; frozen ones keep requires_grad off and stay out of the optimizer.
  std::vector<std::pair<std::string, torch::Tensor>> params;
  std::vector<bool> decay;
  for (auto& p : m.module->named_parameters()) {
    result.total_params += p.value().numel();
    const bool train_it = trainable(p.key());
    // Mapped checkpoint tensors are copy-on-write: training writes only touch private pages.
    p.value().set_requires_grad(train_it);
    if (!train_it) continue;
    params.emplace_back(p.key(), p.value());
    decay.push_back(decays(p.key(), opt.decay_all));
    result.trainable_params += p.value().numel();
  }
  const int64_t pad_id = tok ? tok->default_padding().pad_id : m.config->pad_token_id.value_or(0);
  const auto batches_per_epoch = static_cast<int64_t>((train_rows.size() + opt.batch_size - 1) / opt.batch_size);
  const int64_t updates_per_epoch = std::max<int64_t>(1, batches_per_epoch / opt.grad_accum);
  const int64_t total = opt.max_steps > 0 ? opt.max_steps : updates_per_epoch * opt.epochs;
  result.planned_steps = total;
  std::size_t train_tokens = 0;
  for (const auto& e : train_rows) train_tokens += e.input_ids.size();
  report(fmt::format("{} {}: {} train rows ({} tokens), {} labels ({}), {} updates of {} x {} rows, {} trainable / {} "
                     "parameters", task_name(opt.task), m.architecture, train_rows.size(), train_tokens,
                     labels.names.size(), labels.kind == LabelKind::kRegression ? "regression"
                                          : labels.kind == LabelKind::kMulti  ? "multi-label"
                                                                              : "single-label",
                     total, opt.batch_size, opt.grad_accum, result.trainable_params, result.total_params));
  if (opt.dry_run) return result;

  torch::manual_seed(opt.seed);
  AdamW optimizer(params, decay, AdamWOptions{0.9, 0.999, 1e-8, opt.weight_decay});
  if (opt.layer_lr_decay != 1.0) {
    if (!(opt.layer_lr_decay > 0.0 && opt.layer_lr_decay <= 1.0)) {
      throw InvalidArgument(fmt::format("--layer-lr-decay must be in (0, 1], got {}", opt.layer_lr_decay));
    }
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
  if (!opt.metric_for_best.empty()) {
    if (opt.metric_for_best != "accuracy" && opt.metric_for_best != "macro_f1" && opt.metric_for_best != "loss") {
      throw InvalidArgument(fmt::format("--metric-for-best '{}' is not one of accuracy, macro_f1, loss", opt.metric_for_best));
    }
    if (opt.eval_paths.empty() || opt.eval_steps <= 0) {
      throw InvalidArgument("--metric-for-best needs --eval files and --eval-steps");
    }
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
        state.value("planned_steps", total) != total) {
      throw InvalidArgument(fmt::format("{}: saved with another --seed, --batch-size or step count; resume with the "
                                        "options of the interrupted run", resume_from));
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
    save_hf_dir(tmp_dir, m, opt.model_dir, labels.names, problem_type);
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
    nlohmann::json state = {{"step", step},           {"epoch", next_epoch},     {"batch", next_batch},
                            {"seed", opt.seed},       {"batch_size", opt.batch_size}, {"planned_steps", total},
                            {"log", log_text}};
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

  auto evaluate = [&](int64_t step) {
    torch::NoGradGuard ng;
    m.module->eval();
    for (std::size_t f = 0; f < eval_rows.size(); ++f) {
      const auto& rows = eval_rows[f];
      std::vector<int64_t> truth, pred;
      double loss_sum = 0;
      std::size_t n_batches = 0;
      for (const auto& idx : epoch_batches(rows, opt.batch_size, false, 0, 0)) {
        auto b = make_batch(rows, idx, pad_id, opt.task, labels.kind, opt.device);
        auto out = m.forward(b.inputs);
        loss_sum += out.at("loss").item<double>();
        ++n_batches;
        auto logits = out.at("logits").to(torch::kCPU, torch::kFloat32);
        auto lab = b.inputs.at("labels").to(torch::kCPU);
        if (opt.task == Task::kTokenCls) {
          auto p = logits.argmax(-1);
          auto keep = lab.ne(-100);
          auto tl = lab.index({keep}), pl = p.index({keep});
          for (int64_t i = 0; i < tl.size(0); ++i) {
            truth.push_back(tl[i].item<int64_t>());
            pred.push_back(pl[i].item<int64_t>());
          }
        } else if (labels.kind == LabelKind::kSingle) {
          auto p = logits.argmax(-1);
          for (int64_t i = 0; i < p.size(0); ++i) {
            truth.push_back(lab[i].item<int64_t>());
            pred.push_back(p[i].item<int64_t>());
          }
        }
      }
      EvalRecord r;
      r.file = opt.eval_paths[f];
      r.step = step;
      r.examples = rows.size();
      r.loss = n_batches ? loss_sum / static_cast<double>(n_batches) : 0.0;
      if (!truth.empty()) {
        r.accuracy = metrics::accuracy(truth, pred);
        r.macro_f1 = metrics::f1_score(truth, pred, metrics::Average::kMacro);
      }
      result.evals.push_back(r);
      if (f == 0 && !opt.metric_for_best.empty() && step > 0) {
        const double v = opt.metric_for_best == "loss" ? -r.loss : opt.metric_for_best == "accuracy" ? r.accuracy : r.macro_f1;
        if (best_step < 0 || v > best_value) {
          best_value = v;
          best_step = step;
          evals_without_gain = 0;
          if (!opt.output_dir.empty()) save_hf_dir(fs::path(opt.output_dir) / "best", m, opt.model_dir, labels.names, problem_type);
          report(fmt::format("best {} so far at step {}: saved {}/best", opt.metric_for_best, step, opt.output_dir));
        } else if (opt.early_stopping_patience > 0 && ++evals_without_gain >= opt.early_stopping_patience) {
          stop_early = true;
          report(fmt::format("early stopping at step {}: no better {} in {} evaluations (best at step {})", step,
                             opt.metric_for_best, evals_without_gain, best_step));
        }
      }
      if (keep_log) {
        add_log_line(nlohmann::json({{"eval", r.file}, {"step", r.step}, {"rows", r.examples}, {"loss", r.loss},
                                     {"accuracy", r.accuracy}, {"macro_f1", r.macro_f1}})
                         .dump());
      }
      report(fmt::format("eval {} at step {}: loss {:.4f}, accuracy {:.4f}, macro-F1 {:.4f} ({} rows)", r.file, step,
                         r.loss, r.accuracy, r.macro_f1, r.examples));
    }
    m.module->train();
  };

  if (opt.eval_steps > 0 && step == 0) evaluate(0);  // the starting point, to see training help
  m.module->train();
  core::Progress progress("finetune", static_cast<std::size_t>(total), !opt.quiet);
  std::size_t seen_rows = 0, seen_tokens = 0;
  const int64_t first_step = step;  // > 0 when resumed
  const auto t_start = std::chrono::steady_clock::now();
  progress.advance(static_cast<std::size_t>(step));
  for (int epoch = start_epoch; step < total; ++epoch) {
    auto batches = epoch_batches(train_rows, opt.batch_size, opt.shuffle, opt.seed, epoch);
    for (std::size_t bi = epoch == start_epoch ? start_batch : 0;
         bi + static_cast<std::size_t>(opt.grad_accum) <= batches.size() && step < total;
         bi += static_cast<std::size_t>(opt.grad_accum)) {
      optimizer.zero_grad();
      double loss_sum = 0;
      for (int a = 0; a < opt.grad_accum; ++a) {
        auto b = make_batch(train_rows, batches[bi + static_cast<std::size_t>(a)], pad_id, opt.task, labels.kind, opt.device);
        seen_rows += b.inputs.at("input_ids").size(0);
        seen_tokens += b.tokens;
        auto loss = m.forward(b.inputs).at("loss");
        loss_sum += loss.item<double>();
        (opt.grad_accum > 1 ? loss / static_cast<double>(opt.grad_accum) : loss).backward();
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
  if (!eval_rows.empty()) {
    const std::size_t first = result.evals.size();
    evaluate(step);
    if (eval_rows.size() > 1) {  // the per-file (per-language) table of the final model
      std::string table = fmt::format("{:<28} {:>6} {:>9} {:>9} {:>8}\n", "eval file", "rows", "accuracy", "macro-F1", "loss");
      for (std::size_t i = first; i < result.evals.size(); ++i) {
        const auto& r = result.evals[i];
        table += fmt::format("{:<28} {:>6} {:>9.4f} {:>9.4f} {:>8.4f}\n", fs::path(r.file).stem().string(), r.examples,
                             r.accuracy, r.macro_f1, r.loss);
      }
      report("final evaluation\n" + table);
    }
  }
  m.module->eval();
  if (!opt.output_dir.empty()) {
    if (opt.peft == "lora" && !opt.merge_adapter) {
      // PEFT's layout: adapter_config.json + adapter_model.safetensors (LoRA + the head), loadable
      // by peft.PeftModel and `xling forward --adapter`; config/tokenizer for convenience.
      models::save_adapter(opt.output_dir, *m.module, lora, models::base_model_prefix(*m.module));
      save_hf_config_and_tokenizer(opt.output_dir, m, opt.model_dir, labels.names, problem_type);
    } else {
      if (opt.peft == "lora") models::merge_adapter(*m.module);
      save_hf_dir(opt.output_dir, m, opt.model_dir, labels.names, problem_type);
    }
  }
  return result;
}

}  // namespace xling::train
