// mlm: continued masked-LM pretraining (MAFT/LAFT "adaptive fine-tuning") of <Family>ForMaskedLM
// on plain texts: a .txt file (one text per line; an empty line is an empty text) or .jsonl /
// .tsv / .csv rows with a "text" field. Masks as DataCollatorForLanguageModeling (masking.hpp),
// drawn from the global CPU generator during training (so a checkpoint's RNG state resumes
// them) and from a fixed seed per eval file (so evaluations compare). Shapes: B rows, T tokens.
#include <cmath>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/utf8.hpp"
#include "tasks/batching.hpp"
#include "train/hf_output.hpp"
#include "train/masking.hpp"
#include "io/bert_config.hpp"
#include "train/objective_impl.hpp"
#include "xling/errors.hpp"

namespace fs = std::filesystem;

namespace xling::train {
namespace {

std::vector<std::string> read_texts(const std::string& path) {
  std::vector<std::string> texts;
  if (fs::path(path).extension() == ".txt") {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw IoError(fmt::format("{}: cannot open", path));
    std::string line;
    std::size_t n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (auto bad = core::find_invalid_utf8(line); bad != std::string::npos) {
        throw InvalidArgument(fmt::format("{}:{}: invalid UTF-8 at byte {}", path, n, bad));
      }
      texts.push_back(std::move(line));
    }
    if (texts.empty()) throw InvalidArgument(fmt::format("{}: no texts (the file is empty)", path));
    return texts;
  }
  for_each_json_row(path, [&](std::size_t, const nlohmann::json& row, const std::string& where) {
    for (const char* k : {"text", "sentence", "content"}) {
      auto it = row.find(k);
      if (it == row.end()) continue;
      if (!it->is_string()) throw InvalidArgument(fmt::format("{}: '{}' must be a text", where, k));
      texts.push_back(it->get<std::string>());
      return;
    }
    throw InvalidArgument(fmt::format("{}: no 'text' field", where));
  });
  return texts;
}

class MlmObjective final : public Objective {
 public:
  MlmObjective(const TrainOptions& opt, const std::string& load_dir, const Reporter& report) : seed_(opt.seed) {
    source_dir_ = opt.model_dir;
    eval_paths_ = opt.eval_paths;
    auto cfg = io::load_config_any(opt.model_dir);
    if (cfg->architectures.empty()) throw InvalidArgument(fmt::format("{}/config.json: no 'architectures'", opt.model_dir));
    tok_ = std::make_shared<tokenize::Tokenizer>(tokenize::Tokenizer::from_file(opt.model_dir));
    mlm_ = mlm_options(*tok_);
    mlm_.mlm_probability = opt.mlm_probability;
    mlm_.whole_word_mask = opt.whole_word_mask;
    if (!(opt.mlm_probability > 0 && opt.mlm_probability < 1)) {
      throw InvalidArgument(fmt::format("--mlm-probability must be in (0, 1), got {}", opt.mlm_probability));
    }
    const std::size_t max_len = opt.max_length > 0 ? opt.max_length : tasks::max_input_tokens(*cfg, 512);
    std::size_t truncated = 0;
    auto encode_all = [&](const std::string& path) {
      std::vector<detail::Sequence> out;
      for (const auto& t : read_texts(path)) {
        auto e = tasks::encode_truncated(*tok_, t, nullptr, max_len, &truncated);
        detail::Sequence s;
        s.ids.assign(e.ids.begin(), e.ids.end());
        s.types.assign(e.type_ids.begin(), e.type_ids.end());
        out.push_back(std::move(s));
      }
      return out;
    };
    train_ = encode_all(opt.train_path);
    for (const auto& p : opt.eval_paths) eval_.push_back(encode_all(p));
    if (truncated) report(fmt::format("{} texts truncated to {} tokens", truncated, max_len));

    models::LoadOptions lo = detail::training_load_options(opt, load_dir, cfg->architectures.front(), Task::kMlm);
    model_ = models::load_model(load_dir, lo);
    for (std::size_t i = 0; i < train_.size(); ++i) {
      detail::check_vocabulary(model_, train_[i].ids, fmt::format("{} text {}", opt.train_path, i + 1));
    }
    if (auto* bert = dynamic_cast<const io::BertConfig*>(model_.config.get()); bert && mlm_.vocab_size > bert->vocab_size) {
      mlm_.vocab_size = bert->vocab_size;  // random replacements stay inside the model's embeddings
    }
    pad_id_ = tok_->default_padding().pad_id;
  }

  std::size_t train_size() const override { return train_.size(); }
  std::size_t row_tokens(std::size_t i) const override { return train_[i].ids.size(); }

  BatchLoss loss(const std::vector<std::size_t>& rows) override {
    BatchLoss out;
    out.rows = rows.size();
    auto gen = at::globalContext().defaultGenerator(torch::kCPU);
    auto inputs = masked_batch(train_, rows, gen, &out.tokens);
    out.loss = model_.forward(inputs).at("loss");
    return out;
  }

  EvalResult evaluate(std::size_t f, std::size_t batch_size) override {
    const auto& rows = eval_[f];
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed_ * 7919 + f);  // the same masks at every evaluation
    EvalResult r;
    r.examples = rows.size();
    double nll = 0, correct = 0, masked = 0;
    for (const auto& idx : detail::in_order_batches(rows.size(), batch_size)) {
      auto inputs = masked_batch(rows, idx, gen, nullptr);
      auto labels = inputs.at("labels");
      auto out = model_.forward(inputs);
      auto logits = out.at("logits").to(torch::kFloat32);
      auto keep = labels.ne(-100);
      const double n = keep.sum().item<double>();
      if (n == 0) continue;
      auto sel_logits = logits.index({keep}), sel_labels = labels.index({keep});
      nll += torch::nn::functional::cross_entropy(sel_logits, sel_labels,
                                                  torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                 .item<double>();
      correct += sel_logits.argmax(-1).eq(sel_labels).sum().item<double>();
      masked += n;
    }
    r.loss = masked > 0 ? nll / masked : 0.0;  // per masked token
    r.metrics = {{"accuracy", masked > 0 ? correct / masked : 0.0}, {"perplexity", std::exp(r.loss)}};
    return r;
  }

  std::string describe() const override {
    return fmt::format("masking {:.0f}% of {}", mlm_.mlm_probability * 100, mlm_.whole_word_mask ? "words" : "tokens");
  }
  std::vector<std::string> head_modules() const override { return {"lm_head", "cls"}; }
  std::string peft_task_type() const override { return ""; }

  void save_config(const std::string& dir) const override {
    write_config_and_tokenizer(dir, source_dir_, [&](nlohmann::json& cfg) { cfg["architectures"] = {model_.architecture}; });
  }

 private:
  models::NamedTensors masked_batch(const std::vector<detail::Sequence>& rows, const std::vector<std::size_t>& idx,
                                    torch::Generator& gen, std::size_t* tokens) const {
    std::vector<const detail::Sequence*> seqs;
    for (auto i : idx) seqs.push_back(&rows[i]);
    auto batch = detail::pad_sequences(seqs, pad_id_, torch::kCPU);
    if (tokens) *tokens += batch.tokens;
    MlmInputs in;
    in.input_ids = batch.inputs.at("input_ids");
    in.attention_mask = batch.inputs.at("attention_mask");
    if (mlm_.whole_word_mask) in.word_starts = word_starts(in.input_ids, *tok_);
    auto masked = mask_tokens(in, mlm_, gen);
    models::NamedTensors out;
    out["input_ids"] = masked.input_ids.to(model_.device);
    out["attention_mask"] = batch.inputs.at("attention_mask").to(model_.device);
    out["token_type_ids"] = batch.inputs.at("token_type_ids").to(model_.device);
    out["labels"] = masked.labels.to(model_.device);
    return out;
  }

  uint64_t seed_;
  std::shared_ptr<tokenize::Tokenizer> tok_;
  MlmOptions mlm_;
  std::vector<detail::Sequence> train_;
  std::vector<std::vector<detail::Sequence>> eval_;
  int64_t pad_id_ = 0;
};

}  // namespace

std::unique_ptr<Objective> make_mlm_objective(const TrainOptions& opt, const std::string& load_dir, const Reporter& report) {
  return std::make_unique<MlmObjective>(opt, load_dir, report);
}

}  // namespace xling::train
