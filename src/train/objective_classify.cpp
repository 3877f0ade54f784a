// seq-cls, pair-cls and token-cls: <Family>For{Sequence,Token}Classification with the model's
// own loss (cross-entropy, BCE for multi-label, MSE for regression). Shapes: B rows, T tokens.
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "io/config.hpp"
#include "metrics/classification.hpp"
#include "tasks/batching.hpp"
#include "train/hf_output.hpp"
#include "io/bert_config.hpp"
#include "train/objective_impl.hpp"
#include "xling/errors.hpp"

namespace fs = std::filesystem;

namespace xling::train {
namespace {

std::vector<std::string> config_labels(const io::ModelConfig& c) {
  std::vector<std::string> names;
  for (int64_t i = 0; i < c.num_labels; ++i) {
    auto it = c.id2label.find(i);
    names.push_back(it != c.id2label.end() ? it->second : fmt::format("LABEL_{}", i));
  }
  return names;
}

class ClassifyObjective final : public Objective {
 public:
  ClassifyObjective(const TrainOptions& opt, const std::string& load_dir, const Reporter& report) : task_(opt.task) {
    source_dir_ = opt.model_dir;
    eval_paths_ = opt.eval_paths;
    device_ = opt.device;
    auto base_cfg = io::load_config_any(opt.model_dir);
    if (base_cfg->architectures.empty()) {
      throw InvalidArgument(fmt::format("{}/config.json: no 'architectures'", opt.model_dir));
    }
    const std::string arch = head_architecture(base_cfg->architectures.front(), opt.task);
    const bool had_head = base_cfg->architectures.front() == arch;
    if (fs::exists(fs::path(opt.model_dir) / "tokenizer.json")) {
      tok_ = std::make_shared<tokenize::Tokenizer>(tokenize::Tokenizer::from_file(opt.model_dir));
    }
    labels_ = scan_labels(opt.train_path, opt.task, had_head ? config_labels(*base_cfg) : std::vector<std::string>{});
    if (opt.task != Task::kTokenCls) {
      problem_type_ = labels_.kind == LabelKind::kRegression ? "regression"
                      : labels_.kind == LabelKind::kMulti    ? "multi_label_classification"
                                                             : "single_label_classification";
    }
    ReadOptions ro;
    ro.task = opt.task;
    ro.max_length = opt.max_length > 0 ? opt.max_length : tasks::max_input_tokens(*base_cfg, 512);
    ro.label_all_tokens = opt.label_all_tokens;
    std::size_t truncated = 0;
    ro.truncated = &truncated;
    train_ = read_examples(opt.train_path, tok_.get(), labels_, ro);
    for (const auto& p : opt.eval_paths) eval_.push_back(read_examples(p, tok_.get(), labels_, ro));
    if (truncated) report(fmt::format("{} texts truncated to {} tokens", truncated, ro.max_length));

    models::LoadOptions lo = detail::training_load_options(opt, load_dir, base_cfg->architectures.front(), opt.task);
    lo.labels = labels_.names;
    lo.problem_type = problem_type_;
    model_ = models::load_model(load_dir, lo);
    for (const auto& e : train_) detail::check_vocabulary(model_, e.input_ids, fmt::format("{}:{}", opt.train_path, e.line));
    pad_id_ = tok_ ? tok_->default_padding().pad_id : model_.config->pad_token_id.value_or(0);
  }

  std::size_t train_size() const override { return train_.size(); }
  std::size_t row_tokens(std::size_t i) const override { return train_[i].input_ids.size(); }

  BatchLoss loss(const std::vector<std::size_t>& rows) override {
    BatchLoss out;
    auto inputs = make_batch(train_, rows, &out.tokens);
    out.rows = rows.size();
    out.loss = model_.forward(inputs).at("loss");
    return out;
  }

  EvalResult evaluate(std::size_t f, std::size_t batch_size) override {
    const auto& rows = eval_[f];
    std::vector<int64_t> truth, pred;
    double loss_sum = 0;
    std::size_t n_batches = 0;
    for (const auto& idx : detail::in_order_batches(rows.size(), batch_size)) {
      auto inputs = make_batch(rows, idx, nullptr);
      auto out = model_.forward(inputs);
      loss_sum += out.at("loss").item<double>();
      ++n_batches;
      auto logits = out.at("logits").to(torch::kCPU, torch::kFloat32);
      auto lab = inputs.at("labels").to(torch::kCPU);
      if (task_ == Task::kTokenCls) {
        auto keep = lab.ne(-100);
        auto tl = lab.index({keep}), pl = logits.argmax(-1).index({keep});
        for (int64_t i = 0; i < tl.size(0); ++i) {
          truth.push_back(tl[i].item<int64_t>());
          pred.push_back(pl[i].item<int64_t>());
        }
      } else if (labels_.kind == LabelKind::kSingle) {
        auto p = logits.argmax(-1);
        for (int64_t i = 0; i < p.size(0); ++i) {
          truth.push_back(lab[i].item<int64_t>());
          pred.push_back(p[i].item<int64_t>());
        }
      }
    }
    EvalResult r;
    r.examples = rows.size();
    r.loss = n_batches ? loss_sum / static_cast<double>(n_batches) : 0.0;
    if (!truth.empty()) {
      r.metrics = {{"accuracy", metrics::accuracy(truth, pred)},
                   {"macro_f1", metrics::f1_score(truth, pred, metrics::Average::kMacro)}};
    }
    return r;
  }

  std::string describe() const override {
    return fmt::format("{} labels ({})", labels_.names.size(),
                       labels_.kind == LabelKind::kRegression ? "regression"
                       : labels_.kind == LabelKind::kMulti    ? "multi-label"
                                                              : "single-label");
  }
  std::vector<std::string> head_modules() const override { return {"classifier"}; }
  std::string peft_task_type() const override { return task_ == Task::kTokenCls ? "TOKEN_CLS" : "SEQ_CLS"; }


  void save_config(const std::string& dir) const override {
    write_config_and_tokenizer(dir, source_dir_, [&](nlohmann::json& cfg) {
      cfg["architectures"] = {model_.architecture};
      nlohmann::json id2label = nlohmann::json::object(), label2id = nlohmann::json::object();
      for (std::size_t i = 0; i < labels_.names.size(); ++i) {
        id2label[std::to_string(i)] = labels_.names[i];
        label2id[labels_.names[i]] = i;
      }
      cfg["id2label"] = id2label;
      cfg["label2id"] = label2id;
      if (!problem_type_.empty()) cfg["problem_type"] = problem_type_;
      cfg.erase("num_labels");
    });
  }

 private:
  // rows[idx] -> input_ids/attention_mask/token_type_ids (B, T) + labels: (B) class ids,
  // (B, T) token labels with -100, (B, L) multi-hot floats or (B) regression floats.
  models::NamedTensors make_batch(const std::vector<Example>& rows, const std::vector<std::size_t>& idx,
                                  std::size_t* tokens) const {
    std::vector<detail::Sequence> seqs(idx.size());
    std::vector<const detail::Sequence*> ptrs;
    for (std::size_t r = 0; r < idx.size(); ++r) {
      seqs[r].ids = rows[idx[r]].input_ids;
      seqs[r].types = rows[idx[r]].token_type_ids;
      ptrs.push_back(&seqs[r]);
    }
    auto batch = detail::pad_sequences(ptrs, pad_id_, torch::kCPU);
    if (tokens) *tokens = batch.tokens;
    const auto b = static_cast<int64_t>(idx.size()), t = batch.inputs.at("input_ids").size(1);
    torch::Tensor labels;
    if (task_ == Task::kTokenCls) labels = torch::full({b, t}, -100, torch::kLong);
    else if (labels_.kind == LabelKind::kSingle) labels = torch::zeros({b}, torch::kLong);
    else labels = torch::zeros({b, static_cast<int64_t>(rows[idx[0]].targets.size())}, torch::kFloat32);
    for (int64_t r = 0; r < b; ++r) {
      const Example& e = rows[idx[static_cast<std::size_t>(r)]];
      const auto n = static_cast<int64_t>(e.input_ids.size());
      if (task_ == Task::kTokenCls) {
        if (n > 0) labels[r].narrow(0, 0, n).copy_(torch::tensor(e.labels, torch::kLong));
      } else if (labels_.kind == LabelKind::kSingle) {
        labels[r] = e.labels[0];
      } else {
        labels[r].copy_(torch::tensor(e.targets, torch::kFloat32));
      }
    }
    if (labels_.kind == LabelKind::kRegression && task_ != Task::kTokenCls) labels = labels.view({b});
    models::NamedTensors out;
    for (auto& [k, v] : batch.inputs) out[k] = v.to(device_);
    out["labels"] = labels.to(device_);
    return out;
  }

  Task task_;
  torch::Device device_ = torch::kCPU;
  std::shared_ptr<tokenize::Tokenizer> tok_;
  LabelSet labels_;
  std::string problem_type_;
  std::vector<Example> train_;
  std::vector<std::vector<Example>> eval_;
  int64_t pad_id_ = 0;
};

}  // namespace

std::unique_ptr<Objective> make_classify_objective(const TrainOptions& opt, const std::string& load_dir, const Reporter& report) {
  return std::make_unique<ClassifyObjective>(opt, load_dir, report);
}

}  // namespace xling::train
