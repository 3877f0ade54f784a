// causal-lm: fine-tuning a decoder-only LLM (Llama/Mistral/Qwen2/Gemma, BLOOM), usually with
// --peft lora. Rows (.jsonl):
//   {"messages": [{"role", "content"}, ...]}  rendered by the model's chat template; the loss
//       covers only the assistant turns (each from its content to the end of its rendered turn,
//       e.g. "...<|im_end|>\n": the model learns to stop);
//   {"prompt": ..., "completion": ...}  the loss covers the completion and an appended EOS;
//   {"text": ...}                        the loss covers every token and an appended EOS.
// Plain texts are encoded with the tokenizer's special tokens (e.g. Llama's BOS), conversations
// without (as apply_chat_template). Tokens are labelled by their offsets in the text, so the
// labels follow the tokenization of the whole row. Loss: next-token cross-entropy over the
// labelled positions (HF's ForCausalLMLoss; --label-smoothing optional). Evaluation: loss per
// labelled token and perplexity. Shapes: B rows, T tokens, V vocabulary.
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "io/decoder_config.hpp"
#include "models/causal_lm.hpp"
#include "tokenize/chat_template.hpp"
#include "tokenize/text_tokenizer.hpp"
#include "train/hf_output.hpp"
#include "train/losses.hpp"
#include "train/objective_impl.hpp"
#include "xling/errors.hpp"

namespace fs = std::filesystem;

namespace xling::train {
namespace {

struct Row {
  std::vector<int64_t> ids, labels;  // labels: the id where the loss applies, -100 elsewhere
};

std::string string_field(const nlohmann::json& row, const char* key, const std::string& where) {
  const auto& v = row.at(key);
  if (!v.is_string()) throw InvalidArgument(fmt::format("{}: '{}' must be a text", where, key));
  return v.get<std::string>();
}

class CausalLmObjective final : public Objective {
 public:
  CausalLmObjective(const TrainOptions& opt, const std::string& load_dir, const Reporter& report)
      : label_smoothing_(opt.label_smoothing) {
    source_dir_ = opt.model_dir;
    eval_paths_ = opt.eval_paths;
    if (!(opt.label_smoothing >= 0 && opt.label_smoothing < 1)) {
      throw InvalidArgument(fmt::format("--label-smoothing must be in [0, 1), got {}", opt.label_smoothing));
    }
    auto cfg = io::load_config_any(opt.model_dir);
    if (cfg->architectures.empty()) throw InvalidArgument(fmt::format("{}/config.json: no 'architectures'", opt.model_dir));
    if (cfg->eos_token_ids.empty()) {
      throw InvalidArgument(fmt::format("{}/config.json: no eos_token_id; causal-lm rows end with EOS", opt.model_dir));
    }
    eos_ = cfg->eos_token_ids.front();
    pad_id_ = cfg->pad_token_id.value_or(eos_);
    tok_ = tokenize::load_text_tokenizer(opt.model_dir);
    max_length_ = opt.max_length;
    if (max_length_ == 0) {
      if (auto* d = dynamic_cast<const io::DecoderConfig*>(cfg.get())) max_length_ = static_cast<std::size_t>(d->max_position_embeddings);
    }
    std::size_t truncated = 0, conversations = 0;
    bool counting = true;  // conversations of the training file, for the plan line
    auto read = [&](const std::string& path) {
      std::vector<Row> rows;
      for_each_json_row(path, [&](std::size_t, const nlohmann::json& row, const std::string& where) {
        if (!row.is_object()) throw InvalidArgument(fmt::format("{}: expected an object with messages, prompt/completion or text", where));
        Row r;
        if (row.contains("messages")) {
          r = conversation(row["messages"], where, opt.model_dir);
          if (counting) ++conversations;
        } else if (row.contains("prompt")) {
          if (!row.contains("completion")) throw InvalidArgument(fmt::format("{}: 'prompt' without 'completion'", where));
          r = plain(string_field(row, "prompt", where), string_field(row, "completion", where));
        } else if (row.contains("text")) {
          r = plain("", string_field(row, "text", where));
        } else {
          throw InvalidArgument(fmt::format("{}: no 'messages', 'prompt'/'completion' or 'text' field", where));
        }
        if (max_length_ > 0 && r.ids.size() > max_length_) {
          r.ids.resize(max_length_);
          r.labels.resize(max_length_);
          ++truncated;
        }
        if (std::all_of(r.labels.begin() + 1, r.labels.end(), [](int64_t l) { return l == -100; })) {
          throw InvalidArgument(fmt::format("{}: no token to learn (empty completion or no assistant turn within {} tokens)",
                                            where, max_length_));
        }
        rows.push_back(std::move(r));
      });
      return rows;
    };
    train_ = read(opt.train_path);
    counting = false;
    for (const auto& p : opt.eval_paths) eval_.push_back(read(p));
    if (truncated) report(fmt::format("{} rows truncated to {} tokens", truncated, max_length_));

    models::LoadOptions lo = detail::training_load_options(opt, load_dir, cfg->architectures.front(), Task::kCausalLm);
    model_ = models::load_model(load_dir, lo);
    if (!models::as_causal_lm(*model_.module)) {
      throw UnsupportedModel(fmt::format("{}: {} is not a decoder-only LLM; --task causal-lm trains Llama, Mistral, Qwen2, "
                                         "Gemma and BLOOM causal-LM classes",
                                         opt.model_dir, model_.architecture));
    }
    for (std::size_t i = 0; i < train_.size(); ++i) {
      detail::check_vocabulary(model_, train_[i].ids, fmt::format("{} row {}", opt.train_path, i + 1));
    }
    describe_ = conversations > 0 ? fmt::format("{} conversations: loss on the assistant turns", conversations)
                                  : std::string("loss on the completions / texts and their EOS");
  }

  std::size_t train_size() const override { return train_.size(); }
  std::size_t row_tokens(std::size_t i) const override { return train_[i].ids.size(); }

  BatchLoss loss(const std::vector<std::size_t>& rows) override {
    BatchLoss out;
    out.rows = rows.size();
    torch::Tensor labels;
    auto inputs = batch(train_, rows, &out.tokens, &labels);
    auto logits = model_.forward(inputs).at("logits");
    out.loss = shifted_loss(logits, labels, label_smoothing_);
    return out;
  }

  EvalResult evaluate(std::size_t f, std::size_t batch_size) override {
    const auto& rows = eval_[f];
    EvalResult r;
    r.examples = rows.size();
    double nll = 0, tokens = 0;
    for (const auto& idx : detail::in_order_batches(rows.size(), batch_size)) {
      torch::Tensor labels;
      auto inputs = batch(rows, idx, nullptr, &labels);
      auto logits = model_.forward(inputs).at("logits");
      const int64_t t = logits.size(1);
      const auto s = summed_token_nll(logits.narrow(1, 0, t - 1), labels.narrow(1, 1, t - 1));
      nll += s.nll;
      tokens += s.tokens;
    }
    r.loss = tokens > 0 ? nll / tokens : 0.0;
    r.metrics = {{"perplexity", std::exp(r.loss)}};
    return r;
  }

  std::string describe() const override { return describe_; }
  std::vector<std::string> head_modules() const override { return {}; }  // PEFT's CAUSAL_LM saves no head
  std::string peft_task_type() const override { return "CAUSAL_LM"; }

  void save_config(const std::string& dir) const override {
    write_config_and_tokenizer(dir, source_dir_, [&](nlohmann::json& cfg) { cfg["architectures"] = {model_.architecture}; });
    for (const char* f : {"generation_config.json", "chat_template.jinja", "chat_template.json"}) {
      std::error_code ec;
      fs::path src = fs::path(source_dir_) / f;
      if (fs::exists(src, ec) && fs::absolute(src) != fs::absolute(fs::path(dir) / f)) {
        fs::copy_file(src, fs::path(dir) / f, fs::copy_options::overwrite_existing);
      }
    }
  }

 private:
  // prompt + completion as one text with special tokens, EOS appended; labels on the completion
  // (all of it when the prompt is empty) and the EOS.
  Row plain(const std::string& prompt, const std::string& completion) const {
    const std::string text = prompt + completion;
    auto e = tok_->encode(text, /*add_special=*/true);
    Row r;
    for (std::size_t k = 0; k < e.size(); ++k) {
      r.ids.push_back(e.ids[k]);
      const bool learn = !e.special[k] && e.offsets[k].second > prompt.size();
      r.labels.push_back(learn ? e.ids[k] : -100);
    }
    r.ids.push_back(eos_);
    r.labels.push_back(eos_);
    return r;
  }

  // A conversation through the chat template; labels on the assistant turns' spans.
  Row conversation(const nlohmann::json& messages, const std::string& where, const std::string& dir) {
    if (!messages.is_array() || messages.empty()) throw InvalidArgument(fmt::format("{}: 'messages' must be a non-empty list", where));
    if (!chat_) chat_ = std::make_unique<tokenize::ChatTemplate>(tokenize::ChatTemplate::from_directory(dir));
    std::vector<std::pair<std::size_t, std::size_t>> spans;  // byte ranges of the assistant turns
    tokenize::ChatRenderOptions with_prompt, plain_render;
    with_prompt.add_generation_prompt = true;
    std::string full;
    try {
      full = chat_->render(messages, plain_render);
      for (std::size_t i = 0; i < messages.size(); ++i) {
        if (!messages[i].is_object() || messages[i].value("role", "") != "assistant") continue;
        auto before = nlohmann::json(messages.begin(), messages.begin() + static_cast<std::ptrdiff_t>(i));
        auto upto = nlohmann::json(messages.begin(), messages.begin() + static_cast<std::ptrdiff_t>(i + 1));
        const std::string prefix = chat_->render(before, with_prompt), turn = chat_->render(upto, plain_render);
        if (turn.compare(0, prefix.size(), prefix) != 0 || full.compare(0, turn.size(), turn) != 0) {
          throw InvalidArgument(fmt::format("{}: the chat template does not render this conversation turn by turn (message {} "
                                            "changes what comes before it), so assistant turns cannot be located",
                                            where, i));
        }
        spans.emplace_back(prefix.size(), turn.size());
      }
    } catch (const tokenize::jinja::TemplateRaised& e) {
      throw InvalidArgument(fmt::format("{}: the chat template refuses this conversation: {}", where, e.message()));
    }
    if (spans.empty()) throw InvalidArgument(fmt::format("{}: no assistant message to learn", where));
    auto e = tok_->encode(full, /*add_special=*/false);
    Row r;
    for (std::size_t k = 0; k < e.size(); ++k) {
      r.ids.push_back(e.ids[k]);
      bool learn = false;
      for (const auto& [b, en] : spans) learn = learn || (e.offsets[k].first >= b && e.offsets[k].first < en);
      r.labels.push_back(learn ? e.ids[k] : -100);
    }
    return r;
  }

  // input_ids / attention_mask (B, T) right-padded; `labels` (B, T) with -100 on padding.
  models::NamedTensors batch(const std::vector<Row>& rows, const std::vector<std::size_t>& idx, std::size_t* tokens,
                             torch::Tensor* labels_out) const {
    std::size_t t = 2;
    for (auto i : idx) t = std::max(t, rows[i].ids.size());
    const auto b = static_cast<int64_t>(idx.size());
    auto ids = torch::full({b, static_cast<int64_t>(t)}, pad_id_, torch::kLong);
    auto mask = torch::zeros({b, static_cast<int64_t>(t)}, torch::kLong);
    auto labels = torch::full({b, static_cast<int64_t>(t)}, -100, torch::kLong);
    for (int64_t r = 0; r < b; ++r) {
      const Row& row = rows[idx[static_cast<std::size_t>(r)]];
      const auto n = static_cast<int64_t>(row.ids.size());
      ids[r].narrow(0, 0, n).copy_(torch::tensor(row.ids, torch::kLong));
      mask[r].narrow(0, 0, n).fill_(1);
      labels[r].narrow(0, 0, n).copy_(torch::tensor(row.labels, torch::kLong));
      if (tokens) *tokens += row.ids.size();
    }
    *labels_out = labels.to(model_.device);
    return {{"input_ids", ids.to(model_.device)}, {"attention_mask", mask.to(model_.device)}};
  }

  // logits (B, T, V) predict labels (B, T) one position later.
  static torch::Tensor shifted_loss(const torch::Tensor& logits, const torch::Tensor& labels, double smoothing) {
    const int64_t t = logits.size(1);
    return token_cross_entropy(logits.narrow(1, 0, t - 1), labels.narrow(1, 1, t - 1), smoothing);
  }

  double label_smoothing_;
  int64_t eos_ = 0, pad_id_ = 0;
  std::size_t max_length_ = 0;
  std::unique_ptr<tokenize::TextTokenizer> tok_;
  std::unique_ptr<tokenize::ChatTemplate> chat_;
  std::vector<Row> train_;
  std::vector<std::vector<Row>> eval_;
  std::string describe_;
};

}  // namespace

std::unique_ptr<Objective> make_causal_lm_objective(const TrainOptions& opt, const std::string& load_dir,
                                                    const Reporter& report) {
  return std::make_unique<CausalLmObjective>(opt, load_dir, report);
}

}  // namespace xling::train
