// seq2seq: fine-tuning an encoder-decoder MT model (M2M-100/NLLB, mBART-50, Marian, mT5) on
// parallel rows {"source": ..., "target": ...} (or src/tgt; .jsonl, .tsv, .csv). Sources and
// labels are tokenized as HF's tokenizer(text, text_target=...) does for the --src-lang /
// --tgt-lang pair; decoder inputs are the labels shifted right by the family's rule (in the
// model's forward); the loss is the token cross-entropy with optional label smoothing (HF's
// label_smoothing_factor). Evaluation: loss per target token, and BLEU / chrF++ (sacrebleu's
// defaults) of greedy translations against the references. Shapes: B rows, S source tokens,
// T target tokens, V vocabulary.
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "generate/seq2seq_scorer.hpp"
#include "io/generation_config.hpp"
#include "metrics/bleu.hpp"
#include "metrics/chrf.hpp"
#include "models/seq2seq.hpp"
#include "tasks/batching.hpp"
#include "tokenize/translation_tokenizer.hpp"
#include "train/hf_output.hpp"
#include "train/losses.hpp"
#include "train/objective_impl.hpp"
#include "xling/errors.hpp"

namespace fs = std::filesystem;

namespace xling::train {
namespace {

struct Pair {
  std::vector<int64_t> source, labels;
  std::string reference;
};

std::string text_field(const nlohmann::json& row, std::initializer_list<const char*> keys, const std::string& where) {
  for (const char* k : keys) {
    auto it = row.find(k);
    if (it == row.end()) continue;
    if (!it->is_string()) throw InvalidArgument(fmt::format("{}: '{}' must be a text", where, k));
    return it->get<std::string>();
  }
  throw InvalidArgument(fmt::format("{}: no '{}' field (parallel rows need source/target or src/tgt)", where, *keys.begin()));
}

class Seq2SeqObjective final : public Objective {
 public:
  Seq2SeqObjective(const TrainOptions& opt, const std::string& load_dir, const Reporter& report)
      : src_lang_(opt.src_lang), tgt_lang_(opt.tgt_lang), label_smoothing_(opt.label_smoothing),
        eval_max_new_tokens_(opt.eval_max_new_tokens) {
    source_dir_ = opt.model_dir;
    eval_paths_ = opt.eval_paths;
    if (!(opt.label_smoothing >= 0 && opt.label_smoothing < 1)) {
      throw InvalidArgument(fmt::format("--label-smoothing must be in [0, 1), got {}", opt.label_smoothing));
    }
    if (eval_max_new_tokens_ < 1) throw InvalidArgument("--eval-max-new-tokens must be at least 1");
    auto cfg = io::load_config_any(opt.model_dir);
    if (cfg->architectures.empty()) throw InvalidArgument(fmt::format("{}/config.json: no 'architectures'", opt.model_dir));
    tok_ = std::make_shared<tokenize::TranslationTokenizer>(tokenize::TranslationTokenizer::load(opt.model_dir));
    if (tok_->uses_source_language() && src_lang_.empty()) {
      throw InvalidArgument(fmt::format("{} ({}) needs --src-lang", opt.model_dir, tok_->family_name()));
    }
    if (tok_->uses_target_language() && tgt_lang_.empty()) {
      throw InvalidArgument(fmt::format("{} ({}) needs --tgt-lang", opt.model_dir, tok_->family_name()));
    }
    tokenize::SourceOptions so;
    so.max_length = opt.max_length > 0 ? opt.max_length : tok_->model_max_length();
    std::size_t truncated = 0;
    auto read = [&](const std::string& path) {
      std::vector<Pair> rows;
      for_each_json_row(path, [&](std::size_t, const nlohmann::json& row, const std::string& where) {
        Pair p;
        std::string src = text_field(row, {"source", "src"}, where);
        p.reference = text_field(row, {"target", "tgt"}, where);
        try {
          p.source = tok_->encode_source(src, src_lang_, tgt_lang_, so);
          p.labels = tok_->encode_target(p.reference, tgt_lang_, so);
          if (so.max_length && (p.source.size() >= so.max_length || p.labels.size() >= so.max_length)) {
            if (tok_->encode_source(src, src_lang_, tgt_lang_).size() > p.source.size() ||
                tok_->encode_target(p.reference, tgt_lang_).size() > p.labels.size()) {
              ++truncated;
            }
          }
        } catch (const InvalidArgument& e) {
          throw InvalidArgument(fmt::format("{}: {}", where, e.what()));
        }
        rows.push_back(std::move(p));
      });
      return rows;
    };
    train_ = read(opt.train_path);
    for (const auto& p : opt.eval_paths) eval_.push_back(read(p));
    if (truncated) report(fmt::format("{} rows truncated to {} tokens (source or target)", truncated, so.max_length));

    models::LoadOptions lo = detail::training_load_options(opt, load_dir, cfg->architectures.front(), Task::kSeq2Seq);
    model_ = models::load_model(load_dir, lo);
    s2s_ = models::as_seq2seq(*model_.module);
    if (!s2s_) {
      throw UnsupportedModel(fmt::format("{}: {} is not an encoder-decoder model; --task seq2seq trains M2M-100/NLLB, "
                                         "mBART, Marian and mT5 generation classes",
                                         opt.model_dir, model_.architecture));
    }
    for (std::size_t i = 0; i < train_.size(); ++i) {
      detail::check_vocabulary(model_, train_[i].source, fmt::format("{} row {} (source)", opt.train_path, i + 1));
      detail::check_vocabulary(model_, train_[i].labels, fmt::format("{} row {} (target)", opt.train_path, i + 1));
    }
    pad_id_ = s2s_->seq2seq_config().pad_token_id.value_or(0);
    gen_config_ = io::load_generation_config_if_present(opt.model_dir);
  }

  // Everything but non-trained parameters (final_logits_bias is a buffer in HF).
  std::vector<std::pair<std::string, torch::Tensor>> parameters() override {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (const auto& p : model_.module->named_parameters()) {
      if (p.value().requires_grad()) out.emplace_back(p.key(), p.value());
    }
    return out;
  }

  std::size_t train_size() const override { return train_.size(); }
  std::size_t row_tokens(std::size_t i) const override { return train_[i].source.size() + train_[i].labels.size(); }

  BatchLoss loss(const std::vector<std::size_t>& rows) override {
    BatchLoss out;
    out.rows = rows.size();
    torch::Tensor labels;
    auto inputs = batch(train_, rows, &out.tokens, &labels);
    auto logits = model_.forward(inputs).at("logits");
    out.loss = token_cross_entropy(logits, labels, label_smoothing_);
    return out;
  }

  EvalResult evaluate(std::size_t f, std::size_t batch_size) override {
    const auto& rows = eval_[f];
    EvalResult r;
    r.examples = rows.size();
    double nll = 0, tokens = 0;
    std::vector<std::string> hyps, refs;
    generate::GenerationOverrides ov;
    ov.num_beams = 1;
    ov.do_sample = false;
    ov.max_new_tokens = eval_max_new_tokens_;
    if (auto bos = tok_->forced_bos(tgt_lang_)) ov.forced_bos_token_id = *bos;
    const auto* gc = gen_config_ ? &*gen_config_ : nullptr;
    auto options = generate::resolve_options(s2s_->seq2seq_config(), gc, ov, 1);
    const int64_t start = generate::decoder_start_token(s2s_->seq2seq_config(), gc);
    for (const auto& idx : detail::in_order_batches(rows.size(), batch_size)) {
      torch::Tensor labels;
      auto inputs = batch(rows, idx, nullptr, &labels);
      const auto s = summed_token_nll(model_.forward(inputs).at("logits"), labels);
      nll += s.nll;
      tokens += s.tokens;
      std::vector<std::vector<int64_t>> sources;
      for (auto i : idx) sources.push_back(rows[i].source);
      auto result = generate::generate_seq2seq(*s2s_, sources, start, options, model_.device);
      for (std::size_t k = 0; k < idx.size(); ++k) {
        hyps.push_back(tok_->decode_target(result[k].at(0).ids));
        refs.push_back(rows[idx[k]].reference);
      }
    }
    r.loss = tokens > 0 ? nll / tokens : 0.0;
    metrics::BleuOptions bo;
    metrics::ChrfOptions co;
    co.word_order = 2;
    r.metrics = {{"bleu", metrics::corpus_bleu(hyps, {refs}, bo).score},
                 {"chrf++", metrics::corpus_chrf(hyps, {refs}, co).score},
                 {"perplexity", std::exp(r.loss)}};
    return r;
  }

  std::string describe() const override {
    std::string langs = src_lang_.empty() && tgt_lang_.empty() ? std::string("no language codes")
                                                               : fmt::format("{} -> {}", src_lang_, tgt_lang_);
    return fmt::format("{} ({}), label smoothing {}", tok_->family_name(), langs, label_smoothing_);
  }
  std::vector<std::string> head_modules() const override { return {"lm_head"}; }
  std::string peft_task_type() const override { return "SEQ_2_SEQ_LM"; }

  void save_config(const std::string& dir) const override {
    write_config_and_tokenizer(dir, source_dir_, [&](nlohmann::json& cfg) { cfg["architectures"] = {model_.architecture}; });
    // the rest of an MT directory: decoding defaults and Marian's tokenizer files
    for (const char* f : {"generation_config.json", "source.spm", "target.spm", "target_vocab.json"}) {
      std::error_code ec;
      fs::path src = fs::path(source_dir_) / f;
      if (fs::exists(src, ec) && fs::absolute(src) != fs::absolute(fs::path(dir) / f)) {
        fs::copy_file(src, fs::path(dir) / f, fs::copy_options::overwrite_existing);
      }
    }
  }

 private:
  // input_ids / attention_mask (B, S) right-padded with pad, decoder_input_ids (B, T) = the
  // labels shifted right by the family's rule; `labels` (B, T) padded with -100. The model gets
  // no labels, so it does not compute a loss of its own beside the objective's.
  models::NamedTensors batch(const std::vector<Pair>& rows, const std::vector<std::size_t>& idx, std::size_t* tokens,
                             torch::Tensor* labels_out) const {
    std::size_t s = 1, t = 1;
    for (auto i : idx) {
      s = std::max(s, rows[i].source.size());
      t = std::max(t, rows[i].labels.size());
    }
    const auto b = static_cast<int64_t>(idx.size());
    auto ids = torch::full({b, static_cast<int64_t>(s)}, pad_id_, torch::kLong);
    auto mask = torch::zeros({b, static_cast<int64_t>(s)}, torch::kLong);
    auto labels = torch::full({b, static_cast<int64_t>(t)}, -100, torch::kLong);
    for (int64_t r = 0; r < b; ++r) {
      const Pair& p = rows[idx[static_cast<std::size_t>(r)]];
      const auto ns = static_cast<int64_t>(p.source.size()), nt = static_cast<int64_t>(p.labels.size());
      if (ns) ids[r].narrow(0, 0, ns).copy_(torch::tensor(p.source, torch::kLong));
      mask[r].narrow(0, 0, ns).fill_(1);
      if (nt) labels[r].narrow(0, 0, nt).copy_(torch::tensor(p.labels, torch::kLong));
      if (tokens) *tokens += p.source.size() + p.labels.size();
    }
    *labels_out = labels.to(model_.device);
    return {{"input_ids", ids.to(model_.device)}, {"attention_mask", mask.to(model_.device)},
            {"decoder_input_ids", models::shift_labels_right(labels, s2s_->seq2seq_config()).to(model_.device)}};
  }

  std::string src_lang_, tgt_lang_;
  double label_smoothing_;
  int64_t eval_max_new_tokens_;
  std::shared_ptr<tokenize::TranslationTokenizer> tok_;
  models::Seq2SeqModel* s2s_ = nullptr;
  std::optional<io::GenerationConfig> gen_config_;
  std::vector<Pair> train_;
  std::vector<std::vector<Pair>> eval_;
  int64_t pad_id_ = 0;
};

}  // namespace

std::unique_ptr<Objective> make_seq2seq_objective(const TrainOptions& opt, const std::string& load_dir, const Reporter& report) {
  return std::make_unique<Seq2SeqObjective>(opt, load_dir, report);
}

}  // namespace xling::train
