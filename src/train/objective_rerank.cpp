// cross-encoder: a reranker <Family>ForSequenceClassification with one logit per (query,
// passage) pair, the layout sentence-transformers' CrossEncoder loads (sigmoid on top).
//   bce       rows (query, passage, label in [0, 1]): BCE-with-logits on the logit, as
//             sentence-transformers' BinaryCrossEntropyLoss
//   listwise  rows (query, positive, negatives): softmax cross-entropy over the row's logits
//             with the positive as target (localized contrastive estimation, as mMARCO-style
//             rerankers are trained); rows may have different numbers of negatives
// Shapes: P pairs in a batch (all rows' pairs), G_r pairs of row r.
#include <filesystem>

#include <fmt/format.h>

#include "tasks/batching.hpp"
#include "train/hf_output.hpp"
#include "io/bert_config.hpp"
#include "train/objective_impl.hpp"
#include "xling/errors.hpp"

namespace fs = std::filesystem;

namespace xling::train {
namespace {

class RerankObjective final : public TextRowsObjective {
 public:
  RerankObjective(const TrainOptions& opt, const std::string& load_dir, const Reporter& report) {
    source_dir_ = opt.model_dir;
    eval_paths_ = opt.eval_paths;
    auto cfg = io::load_config_any(opt.model_dir);
    if (cfg->architectures.empty()) throw InvalidArgument(fmt::format("{}/config.json: no 'architectures'", opt.model_dir));
    tok_ = std::make_shared<tokenize::Tokenizer>(tokenize::Tokenizer::from_file(opt.model_dir));
    const std::size_t max_len = opt.max_length > 0 ? opt.max_length : tasks::max_input_tokens(*cfg, 512);
    std::size_t truncated = 0;
    train_ = read_text_rows(opt.train_path, *tok_, Task::kCrossEncoder, max_len, &truncated);
    for (const auto& p : opt.eval_paths) {
      eval_.push_back(read_text_rows(p, *tok_, Task::kCrossEncoder, max_len, &truncated));
      if (eval_.back().kind != train_.kind) {
        throw InvalidArgument(fmt::format("{}: eval rows are of another kind than the training rows", p));
      }
    }
    if (truncated) report(fmt::format("{} pairs truncated to {} tokens", truncated, max_len));
    loss_ = opt.loss.empty() ? (train_.kind == TupleKind::kScored ? "bce" : "listwise") : opt.loss;
    if (loss_ != "bce" && loss_ != "listwise") {
      throw InvalidArgument(fmt::format("--loss '{}' is not a cross-encoder loss (bce, listwise)", loss_));
    }
    if ((loss_ == "bce") != (train_.kind == TupleKind::kScored)) {
      throw InvalidArgument(fmt::format("{}: --loss {} needs {} rows", opt.train_path, loss_,
                                        loss_ == "bce" ? "(query, passage, label)" : "(query, positive, negatives)"));
    }
    auto check_labels = [&](const TextRows& rows, const std::string& path) {
      for (const auto& r : rows.rows) {
        if (rows.kind == TupleKind::kScored && !(r.score >= 0.0f && r.score <= 1.0f)) {
          throw InvalidArgument(fmt::format("{}:{}: label {} is outside [0, 1] (BCE needs a relevance probability)", path,
                                            r.line, r.score));
        }
        if (rows.kind == TupleKind::kPairs && r.seqs.size() < 2) {
          throw InvalidArgument(fmt::format("{}:{}: a listwise row needs negatives (or give a label for BCE)", path, r.line));
        }
      }
    };
    check_labels(train_, opt.train_path);
    for (std::size_t f = 0; f < eval_.size(); ++f) check_labels(eval_[f], opt.eval_paths[f]);

    models::LoadOptions lo = detail::training_load_options(opt, load_dir, cfg->architectures.front(), Task::kCrossEncoder);
    lo.labels = {"LABEL_0"};
    model_ = models::load_model(load_dir, lo);
    for (const auto& r : train_.rows) {
      for (const auto& s : r.seqs) detail::check_vocabulary(model_, s.ids, fmt::format("{}:{}", opt.train_path, r.line));
    }
    pad_id_ = tok_->default_padding().pad_id;
  }


  BatchLoss loss(const std::vector<std::size_t>& rows) override {
    BatchLoss out;
    out.rows = rows.size();
    auto logits = score(train_, rows, &out.tokens);
    out.loss = loss_of(logits, train_, rows);
    return out;
  }

  EvalResult evaluate(std::size_t f, std::size_t batch_size) override {
    const auto& data = eval_[f];
    EvalResult r;
    r.examples = data.rows.size();
    double loss_sum = 0, hits = 0, rr = 0;
    std::size_t batches = 0;
    for (const auto& idx : detail::in_order_batches(data.rows.size(), batch_size)) {
      auto logits = score(data, idx, nullptr);
      loss_sum += loss_of(logits, data, idx).item<double>();
      ++batches;
      auto cpu = logits.to(torch::kCPU, torch::kFloat32);
      int64_t at = 0;
      for (auto i : idx) {
        const auto& row = data.rows[i];
        const auto g = static_cast<int64_t>(row.seqs.size());
        auto group = cpu.narrow(0, at, g);
        at += g;
        if (data.kind == TupleKind::kScored) {
          hits += ((group[0].item<float>() > 0) == (row.score >= 0.5f)) ? 1 : 0;
        } else {
          const auto rank = (group > group[0]).sum().item<int64_t>();  // negatives scored above the positive
          hits += rank == 0 ? 1 : 0;
          rr += rank < 10 ? 1.0 / static_cast<double>(rank + 1) : 0.0;
        }
      }
    }
    const double n = static_cast<double>(std::max<std::size_t>(1, data.rows.size()));
    r.loss = batches ? loss_sum / static_cast<double>(batches) : 0.0;
    r.metrics = {{"accuracy", hits / n}};
    if (data.kind == TupleKind::kPairs) r.metrics.emplace_back("mrr@10", rr / n);
    return r;
  }

  std::string describe() const override {
    return fmt::format("{} rows, loss {}", train_.kind == TupleKind::kScored ? "(query, passage, label)" : "(query, positive, negatives)",
                       loss_);
  }
  std::vector<std::string> head_modules() const override { return {"classifier"}; }
  std::string peft_task_type() const override { return "SEQ_CLS"; }

  void save_config(const std::string& dir) const override {
    write_config_and_tokenizer(dir, source_dir_, [&](nlohmann::json& cfg) {
      cfg["architectures"] = {model_.architecture};
      cfg["id2label"] = {{"0", "LABEL_0"}};
      cfg["label2id"] = {{"LABEL_0", 0}};
      cfg.erase("num_labels");
      cfg.erase("problem_type");
      // What sentence-transformers' CrossEncoder reads to put a sigmoid on the logit.
      cfg["sentence_transformers"] = {{"activation_fn", "torch.nn.modules.activation.Sigmoid"}};
    });
  }

 private:
  // The logit of every pair of rows[idx], row after row: (P).
  torch::Tensor score(const TextRows& data, const std::vector<std::size_t>& idx, std::size_t* tokens) {
    std::vector<const detail::Sequence*> seqs;
    for (auto i : idx) {
      for (const auto& s : data.rows[i].seqs) seqs.push_back(&s);
    }
    auto batch = detail::pad_sequences(seqs, pad_id_, model_.device);
    if (tokens) *tokens += batch.tokens;
    return model_.forward(batch.inputs).at("logits").view({-1});
  }

  torch::Tensor loss_of(const torch::Tensor& logits, const TextRows& data, const std::vector<std::size_t>& idx) const {
    namespace F = torch::nn::functional;
    if (data.kind == TupleKind::kScored) {
      std::vector<float> labels;
      for (auto i : idx) labels.push_back(data.rows[i].score);
      return F::binary_cross_entropy_with_logits(logits.to(torch::kFloat32), torch::tensor(labels).to(logits.device()));
    }
    std::vector<torch::Tensor> losses;
    int64_t at = 0;
    for (auto i : idx) {
      const auto g = static_cast<int64_t>(data.rows[i].seqs.size());
      losses.push_back(-torch::log_softmax(logits.narrow(0, at, g).to(torch::kFloat32), 0)[0]);
      at += g;
    }
    return torch::stack(losses).mean();
  }

  std::string loss_;
};

}  // namespace

std::unique_ptr<Objective> make_rerank_objective(const TrainOptions& opt, const std::string& load_dir, const Reporter& report) {
  return std::make_unique<RerankObjective>(opt, load_dir, report);
}

}  // namespace xling::train
