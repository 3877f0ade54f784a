// bi-encoder: a sentence-transformers model (transformer + pooling [+ normalize]) trained with
// the contrastive losses of sentence-transformers. Each column (anchors, positives, negatives)
// is padded and encoded on its own, as sentence-transformers does. Shapes: B rows, D width,
// N hard negatives in the batch.
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "io/bert_config.hpp"
#include "metrics/correlation.hpp"
#include "tasks/batching.hpp"
#include "tasks/sentence_encoder.hpp"
#include "train/hf_output.hpp"
#include "train/losses.hpp"
#include "train/objective_impl.hpp"
#include "xling/errors.hpp"

namespace fs = std::filesystem;

namespace xling::train {
namespace {

class EmbedObjective final : public TextRowsObjective {
 public:
  EmbedObjective(const TrainOptions& opt, const std::string& load_dir, const Reporter& report) : opt_(opt) {
    eval_paths_ = opt.eval_paths;
    auto layout = tasks::read_sentence_layout(opt.model_dir);
    source_dir_ = layout.transformer_dir;
    if (!layout.dense.empty()) {
      throw UnsupportedModel(fmt::format("{}: training a sentence-transformers model with Dense modules is not supported "
                                         "yet (the Dense weights would stay untrained)", opt.model_dir));
    }
    if (!opt.pooling.empty()) {
      if (layout.pooling && layout.sentence_transformers) {
        report(fmt::format("--pooling {} replaces the directory's pooling", opt.pooling));
      }
      layout.pooling = tasks::parse_pooling(opt.pooling);
      pooling_name_ = opt.pooling;
    } else if (!layout.pooling) {
      layout.pooling = tasks::Pooling::kMean;
      pooling_name_ = "mean";
      report("plain HF encoder: mean pooling (choose with --pooling)");
    } else {
      pooling_name_ = pooling_name(*layout.pooling);
    }
    pooling_ = *layout.pooling;
    modules_.pooling = pooling_name_;
    modules_.include_prompt = layout.include_prompt;
    modules_.normalize = layout.normalize || opt.normalize;
    modules_.lower_case = layout.lower_case;

    tok_ = std::make_shared<tokenize::Tokenizer>(tokenize::Tokenizer::from_file(source_dir_));
    auto cfg = io::load_config_any(source_dir_);
    if (cfg->architectures.empty()) throw InvalidArgument(fmt::format("{}/config.json: no 'architectures'", source_dir_));
    std::size_t max_len = opt.max_length > 0 ? opt.max_length : std::min(layout.max_length, tasks::max_input_tokens(*cfg, 512));
    modules_.max_seq_length = max_len;
    std::size_t truncated = 0;
    train_ = read_text_rows(opt.train_path, *tok_, Task::kBiEncoder, max_len, &truncated);
    for (const auto& p : opt.eval_paths) eval_.push_back(read_text_rows(p, *tok_, Task::kBiEncoder, max_len, &truncated));
    if (truncated) report(fmt::format("{} texts truncated to {} tokens", truncated, max_len));

    loss_ = opt.loss.empty() ? (train_.kind == TupleKind::kScored ? "cosent" : "mnrl") : opt.loss;
    const bool scored_loss = loss_ == "cosent" || loss_ == "cosine";
    if (loss_ != "mnrl" && loss_ != "mnrl-symmetric" && !scored_loss) {
      throw InvalidArgument(fmt::format("--loss '{}' is not a bi-encoder loss (mnrl, mnrl-symmetric, cosent, cosine)", loss_));
    }
    if (scored_loss != (train_.kind == TupleKind::kScored)) {
      throw InvalidArgument(fmt::format("{}: --loss {} needs {} rows", opt.train_path, loss_,
                                        scored_loss ? "scored pairs (sentence1, sentence2, score)"
                                                    : "(anchor, positive[, negative]) rows without scores"));
    }
    if (loss_ == "mnrl-symmetric" && train_.negatives > 0) {
      throw InvalidArgument(fmt::format("{}: --loss mnrl-symmetric takes (anchor, positive) rows; hard negatives need mnrl",
                                        opt.train_path));
    }
    for (std::size_t f = 0; f < eval_.size(); ++f) {
      if (eval_[f].kind != train_.kind) {
        throw InvalidArgument(fmt::format("{}: eval rows are of another kind than the training rows", opt.eval_paths[f]));
      }
    }

    models::LoadOptions lo = detail::training_load_options(opt, load_dir, cfg->architectures.front(), Task::kBiEncoder);
    model_ = models::load_model(tasks::read_sentence_layout(load_dir).transformer_dir, lo);
    for (const auto& r : train_.rows) {
      for (const auto& s : r.seqs) detail::check_vocabulary(model_, s.ids, fmt::format("{}:{}", opt.train_path, r.line));
    }
    if (auto* bert = dynamic_cast<const io::BertConfig*>(model_.config.get())) modules_.dimension = bert->hidden_size;
    pad_id_ = tok_->default_padding().pad_id;
  }


  BatchLoss loss(const std::vector<std::size_t>& rows) override {
    BatchLoss out;
    out.rows = rows.size();
    out.loss = batch_loss(train_, rows, &out.tokens);
    return out;
  }

  EvalResult evaluate(std::size_t f, std::size_t batch_size) override {
    const auto& data = eval_[f];
    EvalResult r;
    r.examples = data.rows.size();
    double loss_sum = 0;
    std::size_t batches = 0;
    std::vector<torch::Tensor> anchors, positives;
    for (const auto& idx : detail::in_order_batches(data.rows.size(), batch_size)) {
      auto cols = embed_columns(data, idx, nullptr);
      loss_sum += loss_of(cols, data, idx).item<double>();
      ++batches;
      anchors.push_back(cols[0].to(torch::kCPU, torch::kFloat32));
      positives.push_back(cols[1].to(torch::kCPU, torch::kFloat32));
    }
    r.loss = batches ? loss_sum / static_cast<double>(batches) : 0.0;
    namespace F = torch::nn::functional;
    auto a = F::normalize(torch::cat(anchors), F::NormalizeFuncOptions().dim(1));
    auto b = F::normalize(torch::cat(positives), F::NormalizeFuncOptions().dim(1));
    if (data.kind == TupleKind::kScored) {
      auto cos = (a * b).sum(1).to(torch::kDouble).contiguous();
      std::vector<double> x(cos.data_ptr<double>(), cos.data_ptr<double>() + cos.size(0)), y;
      for (const auto& row : data.rows) y.push_back(row.score);
      r.metrics = {{"spearman", metrics::spearman(x, y)}, {"pearson", metrics::pearson(x, y)}};
    } else {
      // Retrieval over the whole file: anchor i should find positive i among all positives.
      auto sim = torch::matmul(a, b.t());  // (N, N)
      auto own = sim.diagonal().unsqueeze(1);
      auto rank = (sim > own).sum(1).to(torch::kDouble);  // better-scored candidates = rank - 1
      auto top1 = rank.eq(0).to(torch::kDouble).mean().item<double>();
      auto rr = torch::where(rank < 10, 1.0 / (rank + 1), torch::zeros_like(rank)).mean().item<double>();
      r.metrics = {{"accuracy", top1}, {"mrr@10", rr}};
    }
    return r;
  }

  std::string describe() const override {
    return fmt::format("{} rows, loss {} (scale {}{}), {} pooling{}",
                       train_.kind == TupleKind::kScored ? "scored pair"
                       : train_.negatives               ? fmt::format("(anchor, positive, {} negatives)", train_.negatives)
                                                        : "(anchor, positive)",
                       loss_, opt_.scale, opt_.margin != 0 ? fmt::format(", margin {}", opt_.margin) : "", pooling_name_,
                       modules_.normalize ? " + normalize" : "");
  }
  std::vector<std::string> head_modules() const override { return {}; }
  std::string peft_task_type() const override { return "FEATURE_EXTRACTION"; }

  void save_config(const std::string& dir) const override {
    write_config_and_tokenizer(dir, source_dir_, [&](nlohmann::json& cfg) { cfg["architectures"] = {model_.architecture}; });
    write_sentence_modules(dir, modules_);
  }

 private:
  static std::string pooling_name(tasks::Pooling p) {
    switch (p) {
      case tasks::Pooling::kCls: return "cls";
      case tasks::Pooling::kMean: return "mean";
      case tasks::Pooling::kMax: return "max";
      case tasks::Pooling::kMeanSqrtLen: return "mean_sqrt_len";
      case tasks::Pooling::kLastToken: return "lasttoken";
      case tasks::Pooling::kWeightedMean: return "weightedmean";
    }
    return "mean";
  }

  // Column embeddings of rows[idx]: [anchors (B, D), positives (B, D)] and, when the rows have
  // negatives, all of them (N, D) as a third entry.
  std::vector<torch::Tensor> embed_columns(const TextRows& data, const std::vector<std::size_t>& idx, std::size_t* tokens) {
    std::vector<std::vector<const detail::Sequence*>> cols(3);
    for (auto i : idx) {
      const auto& seqs = data.rows[i].seqs;
      cols[0].push_back(&seqs[0]);
      cols[1].push_back(&seqs[1]);
      for (std::size_t k = 2; k < seqs.size(); ++k) cols[2].push_back(&seqs[k]);
    }
    std::vector<torch::Tensor> out;
    for (const auto& col : cols) {
      if (col.empty()) continue;
      auto batch = detail::pad_sequences(col, pad_id_, model_.device);
      if (tokens) *tokens += batch.tokens;
      auto hidden = model_.forward(batch.inputs).at("last_hidden_state");
      auto emb = tasks::pool(hidden, batch.inputs.at("attention_mask"), pooling_);
      if (modules_.normalize) emb = torch::nn::functional::normalize(emb, torch::nn::functional::NormalizeFuncOptions().dim(1));
      out.push_back(emb);
    }
    return out;
  }

  torch::Tensor loss_of(const std::vector<torch::Tensor>& cols, const TextRows& data, const std::vector<std::size_t>& idx) {
    if (data.kind == TupleKind::kScored) {
      std::vector<float> scores;
      for (auto i : idx) scores.push_back(data.rows[i].score);
      auto labels = torch::tensor(scores).to(cols[0].device());
      return loss_ == "cosent" ? cosent_loss(cols[0], cols[1], labels, opt_.scale) : cosine_similarity_loss(cols[0], cols[1], labels);
    }
    return multiple_negatives_ranking_loss(cols[0], cols[1], opt_.scale, loss_ == "mnrl-symmetric", opt_.margin,
                                           cols.size() > 2 ? cols[2] : torch::Tensor());
  }

  torch::Tensor batch_loss(const TextRows& data, const std::vector<std::size_t>& idx, std::size_t* tokens) {
    return loss_of(embed_columns(data, idx, tokens), data, idx);
  }

  TrainOptions opt_;
  tasks::Pooling pooling_ = tasks::Pooling::kMean;
  std::string pooling_name_, loss_;
  SentenceModules modules_;
};

}  // namespace

std::unique_ptr<Objective> make_embed_objective(const TrainOptions& opt, const std::string& load_dir, const Reporter& report) {
  return std::make_unique<EmbedObjective>(opt, load_dir, report);
}

}  // namespace xling::train
