// sentence-transformers pipelines (see sentence_encoder.hpp).
#include "tasks/sentence_encoder.hpp"

#include <algorithm>
#include <filesystem>
#include <numeric>

#include <fmt/format.h>

#include "core/json.hpp"
#include "io/bert_config.hpp"
#include "io/checkpoint.hpp"
#include "layers/weights.hpp"
#include "tasks/batching.hpp"
#include "xling/errors.hpp"

namespace fs = std::filesystem;

namespace xling::tasks {

Pooling parse_pooling(const std::string& n) {
  if (n == "cls") return Pooling::kCls;
  if (n == "mean") return Pooling::kMean;
  if (n == "max") return Pooling::kMax;
  if (n == "mean_sqrt_len" || n == "mean_sqrt_len_tokens") return Pooling::kMeanSqrtLen;
  if (n == "lasttoken" || n == "last_token") return Pooling::kLastToken;
  if (n == "weightedmean" || n == "weighted_mean") return Pooling::kWeightedMean;
  throw InvalidArgument(fmt::format("pooling '{}' is not one of cls, mean, max, mean_sqrt_len, lasttoken, weightedmean", n));
}

torch::Tensor pool(const torch::Tensor& h, const torch::Tensor& mask, Pooling p) {
  auto m = mask.to(h.scalar_type()).unsqueeze(-1);  // (B, T, 1)
  switch (p) {
    case Pooling::kCls: return h.select(1, 0);
    case Pooling::kMean: return (h * m).sum(1) / m.sum(1).clamp_min(1e-9);
    case Pooling::kMeanSqrtLen: return (h * m).sum(1) / m.sum(1).clamp_min(1e-9).sqrt();
    case Pooling::kMax: return h.masked_fill(m.eq(0), -1e9).amax(1);
    case Pooling::kWeightedMean: {
      auto w = torch::arange(1, h.size(1) + 1, h.options()).view({1, -1, 1}) * m;
      return (h * w).sum(1) / w.sum(1).clamp_min(1e-9);
    }
    case Pooling::kLastToken: {
      auto last = mask.to(torch::kLong).sum(1).sub(1).clamp_min(0);  // right padding
      return h.index({torch::arange(h.size(0)), last});
    }
  }
  return h.select(1, 0);
}

namespace {

std::string activation_of(const std::string& cls) {
  std::string n = cls.substr(cls.rfind('.') + 1);
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
  if (n == "tanh" || n == "identity" || n == "relu" || n == "gelu" || n == "sigmoid") return n;
  throw UnsupportedModel(fmt::format("Dense activation '{}' is not supported", cls));
}

torch::Tensor apply_activation(const torch::Tensor& x, const std::string& a) {
  if (a == "tanh") return torch::tanh(x);
  if (a == "relu") return torch::relu(x);
  if (a == "gelu") return torch::gelu(x);
  if (a == "sigmoid") return torch::sigmoid(x);
  return x;
}

}  // namespace

SentenceLayout read_sentence_layout(const std::string& dir) {
  SentenceLayout out;
  fs::path root(dir);
  std::error_code ec;
  out.transformer_dir = dir;
  if (!fs::exists(root / "modules.json", ec) && !fs::exists(root / "config.json", ec)) {
    throw IoError(fmt::format("{}: no config.json (nor modules.json) in this directory", dir));
  }
  if (!fs::exists(root / "modules.json", ec)) return out;
  out.sentence_transformers = true;
  auto modules = core::read_json_file((root / "modules.json").string());
  if (!modules.is_array()) throw InvalidArgument(fmt::format("{}/modules.json: expected a list of modules", dir));
  for (const auto& mod : modules) {
    std::string type = mod.value("type", "");
    fs::path path = root / mod.value("path", "");
    std::string kind = type.substr(type.rfind('.') + 1);
    if (kind == "Transformer") {
      out.transformer_dir = path.string();
    } else if (kind == "Pooling") {
      auto cfg = core::read_json_file((path / "config.json").string());
      std::vector<std::string> modes;
      if (cfg.contains("pooling_mode")) {  // sentence-transformers >= 5
        const auto& pm = cfg["pooling_mode"];
        if (pm.is_string()) modes.push_back(pm.get<std::string>());
        else for (const auto& x : pm) modes.push_back(x.get<std::string>());
      }
      for (const char* k : {"cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens", "weightedmean_tokens", "lasttoken"}) {
        if (cfg.value(std::string("pooling_mode_") + k, false)) {
          std::string n = k;
          if (n == "cls_token") n = "cls";
          else if (n == "mean_tokens") n = "mean";
          else if (n == "max_tokens") n = "max";
          else if (n == "weightedmean_tokens") n = "weightedmean";
          modes.push_back(n);
        }
      }
      if (modes.size() != 1) {
        throw UnsupportedModel(fmt::format("{}/config.json: exactly one pooling mode is supported, found {}", path.string(),
                                           modes.size()));
      }
      out.pooling = parse_pooling(modes[0]);
      out.include_prompt = cfg.value("include_prompt", true);
    } else if (kind == "Dense") {
      auto cfg = core::read_json_file((path / "config.json").string());
      auto ckpt = io::Checkpoint::open(path.string());
      DenseLayer d;
      d.weight = layers::tensor_from_view(ckpt.resolve({"linear.weight", "weight"}), nullptr).clone();
      if (const auto* b = ckpt.find("linear.bias")) d.bias = layers::tensor_from_view(*b, nullptr).clone();
      d.activation = activation_of(cfg.value("activation_function", "torch.nn.modules.linear.Identity"));
      d.weight = d.weight.to(torch::kFloat32);
      if (d.bias.defined()) d.bias = d.bias.to(torch::kFloat32);
      out.dense.push_back(std::move(d));
    } else if (kind == "Normalize") {
      out.normalize = true;
    } else {
      throw UnsupportedModel(fmt::format("{}/modules.json: module type '{}' is not supported", dir, type));
    }
  }
  fs::path p = fs::path(out.transformer_dir) / "sentence_bert_config.json";
  if (fs::exists(p, ec)) {
    auto cfg = core::read_json_file(p.string());
    if (cfg.contains("max_seq_length") && cfg["max_seq_length"].is_number_integer()) {
      out.max_length = cfg["max_seq_length"].get<std::size_t>();
    }
    out.lower_case = cfg.value("do_lower_case", false);
  }
  fs::path st = root / "config_sentence_transformers.json";
  if (fs::exists(st, ec)) {
    auto cfg = core::read_json_file(st.string());
    if (cfg.contains("prompts") && cfg["prompts"].is_object()) {
      for (const auto& [k, v] : cfg["prompts"].items()) {
        if (v.is_string()) out.prompts[k] = v.get<std::string>();
      }
    }
    if (cfg.contains("default_prompt_name") && cfg["default_prompt_name"].is_string()) {
      out.default_prompt_name = cfg["default_prompt_name"].get<std::string>();
    }
  }
  return out;
}

SentenceEncoder SentenceEncoder::load(const std::string& dir, std::optional<Pooling> pooling, bool normalize,
                                      const models::LoadOptions& options) {
  SentenceEncoder enc;
  std::error_code ec;
  SentenceLayout layout = read_sentence_layout(dir);
  if (pooling) layout.pooling = *pooling;
  if (!layout.pooling) {
    throw InvalidArgument(fmt::format("{}: not a sentence-transformers directory (no modules.json with Pooling); "
                                      "give a pooling mode (--pooling cls|mean|max|lasttoken)", dir));
  }
  enc.pooling_ = *layout.pooling;
  enc.include_prompt_ = layout.include_prompt;
  enc.dense_ = std::move(layout.dense);
  enc.normalize_ = layout.normalize || normalize;
  enc.max_length_ = layout.max_length;
  enc.lower_case_ = layout.lower_case;
  enc.prompts_ = std::move(layout.prompts);
  enc.default_prompt_name_ = std::move(layout.default_prompt_name);
  const fs::path transformer_dir = layout.transformer_dir;
  enc.model_ = std::make_shared<models::LoadedModel>(models::load_model(transformer_dir.string(), models::LoadOptions::with_dtype(options.dtype, options.device)));
  enc.tokenizer_ = std::make_shared<tokenize::Tokenizer>(tokenize::Tokenizer::from_file(transformer_dir.string()));
  enc.max_length_ = std::min(enc.max_length_, max_input_tokens(*enc.model_->config, enc.max_length_));
  if (auto* bert = dynamic_cast<const io::BertConfig*>(enc.model_->config.get())) {
    enc.dimension_ = static_cast<std::size_t>(bert->hidden_size);
  }
  fs::path tcfg = transformer_dir / "tokenizer_config.json";
  if (fs::exists(tcfg, ec)) {
    auto cfg = core::read_json_file(tcfg.string());
    if (cfg.contains("model_max_length") && cfg["model_max_length"].is_number_integer()) {
      enc.max_length_ = std::min<std::size_t>(enc.max_length_, cfg["model_max_length"].get<uint64_t>());
    }
  }
  if (!enc.dense_.empty()) enc.dimension_ = static_cast<std::size_t>(enc.dense_.back().weight.size(0));
  return enc;
}

std::string SentenceEncoder::resolve_prompt(const EncodeOptions& opt) const {
  if (!opt.prompt_name.empty()) {
    auto it = prompts_.find(opt.prompt_name);
    if (it == prompts_.end()) throw InvalidArgument(fmt::format("the model has no prompt named '{}'", opt.prompt_name));
    return it->second;
  }
  if (opt.prompt.empty() && !default_prompt_name_.empty() && prompts_.count(default_prompt_name_)) {
    return prompts_.at(default_prompt_name_);
  }
  return opt.prompt;
}

std::string SentenceEncoder::input_text(const std::string& prompt, const std::string& text) const {
  std::string t = prompt + text;
  if (lower_case_) std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  return t;
}

tokenize::Encoding SentenceEncoder::tokenize(const std::string& text, const EncodeOptions& opt, std::size_t* full_length) const {
  return encode_truncated(*tokenizer_, input_text(resolve_prompt(opt), text), nullptr, opt.max_length.value_or(max_length_),
                          nullptr, full_length);
}

torch::Tensor SentenceEncoder::encode(const std::vector<std::string>& texts, const EncodeOptions& opt, EncodeStats* stats) const {
  // Tokenize everything, then batch by length.
  std::vector<tokenize::Encoding> encs(texts.size());
  std::size_t truncated = 0;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    std::size_t full = 0;
    encs[i] = tokenize(texts[i], opt, &full);
    if (full > encs[i].size()) ++truncated;
  }
  auto out = encode_tokenized(encs, opt, stats);
  if (stats) stats->truncated = truncated;
  return out;
}

torch::Tensor SentenceEncoder::encode_tokenized(const std::vector<tokenize::Encoding>& encs, const EncodeOptions& opt,
                                                EncodeStats* stats) const {
  const std::string prompt = resolve_prompt(opt);
  std::size_t prompt_tokens = 0;
  if (!prompt.empty() && !include_prompt_) prompt_tokens = tokenizer_->encode(prompt).size() - 1;
  EncodeStats st;
  st.texts = encs.size();
  torch::Tensor out = torch::empty({static_cast<int64_t>(encs.size()), static_cast<int64_t>(dimension_)});
  torch::InferenceMode guard;
  BatchStats bs;
  for_each_batch(encs, resolve_batch_tokens(opt.batch_tokens, model_->device), tokenizer_->default_padding().pad_id, [&](const Batch& batch) {
    auto res = model_->forward(
        {{"input_ids", batch.input_ids}, {"attention_mask", batch.attention_mask}, {"token_type_ids", batch.token_type_ids}});
    auto hidden = res.at("last_hidden_state").to(torch::kFloat32);  // pooling and Dense in fp32 whatever the compute dtype
    auto pool_mask = batch.attention_mask;
    if (prompt_tokens > 0) {
      pool_mask = pool_mask.clone();
      pool_mask.index_put_({torch::indexing::Slice(), torch::indexing::Slice(0, static_cast<int64_t>(prompt_tokens))}, 0);
    }
    auto emb = pool(hidden, pool_mask.to(hidden.device()), pooling_).to(torch::kCPU);
    for (const auto& d : dense_) emb = apply_activation(torch::nn::functional::linear(emb, d.weight, d.bias), d.activation);
    if (normalize_) emb = torch::nn::functional::normalize(emb, torch::nn::functional::NormalizeFuncOptions().p(2).dim(1));
    for (std::size_t r = 0; r < batch.rows.size(); ++r) out[static_cast<int64_t>(batch.rows[r])].copy_(emb[static_cast<int64_t>(r)]);
  }, &bs, pass_cost_tokens(model_->device));
  st.tokens = bs.tokens;
  st.padded_tokens = bs.padded_tokens;
  if (stats) *stats = st;
  return out;
}

}  // namespace xling::tasks
