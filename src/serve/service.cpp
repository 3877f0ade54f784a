// `xling serve`'s endpoints over the hosted models (see service.hpp).
#include "serve/service.hpp"

#include <cmath>
#include <condition_variable>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <limits>
#include <mutex>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "models/registry.hpp"
#include "core/json.hpp"
#include "tasks/batching.hpp"
#include "tasks/cross_encoder.hpp"
#include "tasks/sentence_encoder.hpp"
#include "tasks/sequence_classifier.hpp"
#include "tasks/token_tagger.hpp"
#include "generate/causal_scorer.hpp"
#include "generate/seq2seq_scorer.hpp"
#include "generate/text_generator.hpp"
#include "tokenize/translation_tokenizer.hpp"
#include "tokenize/unicode.hpp"
#include "xling/errors.hpp"
#include "xling/version.hpp"

namespace xling::serve {

// A streamed chat reply between the model thread, which appends text as it is generated, and
// the connection thread, which sends it as server-sent events.
struct ChatStream {
  std::mutex mu;
  std::condition_variable cv;
  std::string pending;  // generated, not yet taken by the connection thread
  bool finished = false;
  std::string finish_reason, error;
  std::size_t completion_tokens = 0;
  std::shared_ptr<std::atomic<bool>> cancelled = std::make_shared<std::atomic<bool>>(false);

  void push(std::string_view text) {
    {
      std::lock_guard<std::mutex> lock(mu);
      pending += text;
    }
    cv.notify_one();
  }
  void finish(std::string reason, std::size_t tokens, std::string failure = {}) {
    {
      std::lock_guard<std::mutex> lock(mu);
      finished = true;
      finish_reason = std::move(reason);
      completion_tokens = tokens;
      error = std::move(failure);
    }
    cv.notify_one();
  }
};

// One input of a request, as the batcher sees it: a text (and its pair for /rerank and
// /predict). Items of one lane share how they are run: the prompt (embeddings), single or
// pair inputs (classifiers), the aggregation (taggers).
struct detail::Item {
  std::string text;
  std::optional<std::string> pair;
  std::string lane;
  std::size_t tokens = 0;  // after truncation: the batch budget's cost
  // Embedding and classifier inputs, tokenized (and truncated) by the request's own thread so
  // that the model's worker only runs the model.
  std::optional<tokenize::Encoding> encoding;
  // Chat: the rendered conversation's ids, and the stream of a "stream": true request.
  std::vector<int64_t> prompt_ids;
  std::shared_ptr<ChatStream> stream;
};
// Embedding or logits in `values`; entities for taggers; the translation for seq2seq models.
struct detail::Output {
  std::vector<float> values;
  std::vector<tasks::TaggedEntity> entities;
  std::string text;
  std::string finish_reason;         // chat: "stop" or "length"
  std::size_t completion_tokens = 0; // chat
};
using detail::Item;
using detail::Output;

// An item of a text (and its pair) in a lane; the rest is filled in by run_items().
static Item text_item(std::string text, std::optional<std::string> pair, std::string lane) {
  Item it;
  it.text = std::move(text);
  it.pair = std::move(pair);
  it.lane = std::move(lane);
  return it;
}
using ModelBatcher = Batcher<Item, Output>;

namespace {

using Clock = std::chrono::steady_clock;


enum class Kind { kEmbedding, kClassifier, kTagger, kTranslation, kChat };

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kEmbedding: return "embedding";
    case Kind::kClassifier: return "classifier";
    case Kind::kTagger: return "tagger";
    case Kind::kTranslation: return "translation";
    case Kind::kChat: return "chat";
  }
  return "?";
}

// What a directory is served as, from config.json's architectures: *ForSequenceClassification
// (rerankers included) -> /predict and /rerank, *ForTokenClassification -> /tag,
// *ForConditionalGeneration / MarianMTModel -> /translate, anything else (sentence-transformers
// or plain encoders) -> embeddings.
Kind detect_kind(const std::string& dir) {
  if (generate::is_causal_lm_dir(dir)) return Kind::kChat;  // decoder-only LLMs
  const auto cfg_path = std::filesystem::path(dir) / "config.json";
  if (!std::filesystem::exists(cfg_path)) return Kind::kEmbedding;  // SentenceEncoder::load names what is missing
  auto cfg = core::read_json_file(cfg_path.string());
  if (cfg.is_object() && cfg.contains("architectures") && cfg["architectures"].is_array()) {
    for (const auto& a : cfg["architectures"]) {
      if (!a.is_string()) continue;
      const std::string name = a.get<std::string>();
      auto ends = [&](std::string_view suffix) {
        return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
      };
      if (ends("ForSequenceClassification")) return Kind::kClassifier;
      if (ends("ForTokenClassification")) return Kind::kTagger;
      if (ends("ForConditionalGeneration") || ends("MTModel")) return Kind::kTranslation;
    }
  }
  return Kind::kEmbedding;
}

RequestError error(int status, std::string_view type, const std::string& message) {
  return RequestError(status, type, message);
}

HttpResponse json_response(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse error_response(int status, std::string_view type, std::string_view message) {
  return json_response(status, error_body(type, message));
}

// Every endpoint: its path, its method, and which model kinds serve it (none: the server's own).
struct Endpoint {
  const char* path;
  const char* method;
  std::vector<Kind> kinds;
};

const std::vector<Endpoint>& endpoints() {
  static const std::vector<Endpoint> all = {
      {"/health", "GET", {}},
      {"/info", "GET", {}},
      {"/metrics", "GET", {}},
      {"/embed", "POST", {Kind::kEmbedding}},
      {"/v1/embeddings", "POST", {Kind::kEmbedding}},
      {"/predict", "POST", {Kind::kClassifier}},
      {"/rerank", "POST", {Kind::kClassifier}},
      {"/tag", "POST", {Kind::kTagger}},
      {"/translate", "POST", {Kind::kTranslation}},
      {"/v1/chat/completions", "POST", {Kind::kChat}},
      {"/tokenize", "POST", {Kind::kEmbedding, Kind::kClassifier, Kind::kTagger}},
      {"/decode", "POST", {Kind::kEmbedding, Kind::kClassifier, Kind::kTagger}},
  };
  return all;
}

const Endpoint* find_endpoint(const std::string& path) {
  for (const auto& e : endpoints()) {
    if (path == e.path) return &e;
  }
  return nullptr;
}

// The model endpoints a kind of model serves, in endpoints() order.
std::vector<std::string> endpoints_of(Kind kind) {
  std::vector<std::string> out;
  for (const auto& e : endpoints()) {
    if (std::find(e.kinds.begin(), e.kinds.end(), kind) != e.kinds.end()) out.push_back(e.path);
  }
  return out;
}

// The text of a sentence-transformers prompt, or a 400 naming the model's prompts.
const std::string& prompt_text(const tasks::SentenceEncoder* encoder, const std::string& model,
                               const std::string& prompt_name) {
  if (encoder) {
    auto it = encoder->prompts().find(prompt_name);
    if (it != encoder->prompts().end()) return it->second;
  }
  std::vector<std::string> known;
  if (encoder) {
    for (const auto& [k, v] : encoder->prompts()) known.push_back(k);
  }
  throw error(400, kValidation, fmt::format("prompt_name '{}' is not a prompt of model '{}' (prompts: {})", prompt_name,
                                            model, known.empty() ? "none" : fmt::format("{}", fmt::join(known, ", "))));
}

// Only right truncation is implemented (the encoders cut the end of an input).
void refuse_left_truncation(TruncationDirection direction) {
  if (direction == TruncationDirection::kLeft) {
    throw error(400, kValidation, "truncation_direction \"left\" is not supported; inputs are cut on the right");
  }
}

void l2_normalize(std::vector<float>& v) {
  double sum = 0.0;
  for (float x : v) sum += static_cast<double>(x) * x;
  const double norm = std::max(std::sqrt(sum), 1e-12);  // torch.nn.functional.normalize's eps
  for (float& x : v) x = static_cast<float>(x / norm);
}

std::vector<std::string> texts_of(const std::vector<EmbedInput>& inputs, std::string_view field) {
  std::vector<std::string> texts;
  texts.reserve(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const auto* text = std::get_if<std::string>(&inputs[i]);
    if (!text) {
      throw error(400, kValidation,
                  fmt::format("{}[{}]: token-id inputs are not supported by xling serve; send the text", field, i));
    }
    texts.push_back(*text);
  }
  return texts;
}

// A translation lane: the items of one batch share languages and decoding options.
struct TranslationLane {
  std::string src, tgt;
  int num_beams = 0, max_new_tokens = 0;  // 0: the model's generation_config
};

std::string lane_key(const TranslationLane& l) {
  return fmt::format("{}\t{}\t{}\t{}", l.src, l.tgt, l.num_beams, l.max_new_tokens);
}

TranslationLane parse_lane(const std::string& key) {
  TranslationLane l;
  std::vector<std::string> f;
  std::size_t start = 0;
  for (std::size_t tab; (tab = key.find('\t', start)) != std::string::npos; start = tab + 1) f.push_back(key.substr(start, tab - start));
  f.push_back(key.substr(start));
  if (f.size() != 4) throw InvalidArgument("internal: bad translation lane '" + key + "'");
  l.src = f[0];
  l.tgt = f[1];
  l.num_beams = std::stoi(f[2]);
  l.max_new_tokens = std::stoi(f[3]);
  return l;
}

// Why a batch's work did not happen, as the HTTP error a request gets (run_items, streamed chat).
RequestError outcome_error(BatchStatus status, const std::string& failure) {
  switch (status) {
    case BatchStatus::kQueueFull: return error(429, "Overloaded", "the queue is full; retry later");
    case BatchStatus::kTimedOut: return error(504, "Timeout", "the request timed out in the queue");
    case BatchStatus::kCancelled: return error(499, "Cancelled", "the client went away");
    case BatchStatus::kShutdown: return error(503, "Unhealthy", "the server is shutting down");
    default: return error(500, kBackend, failure);
  }
}

// Chat decoding options of one lane (the items of a batch share them), as a JSON key.
std::string chat_lane_key(int max_tokens, const ChatRequest& q, uint64_t stream_id) {
  nlohmann::json j = {{"max", max_tokens}, {"stop", q.stop}};
  if (q.temperature) j["temperature"] = *q.temperature;
  if (q.top_p) j["top_p"] = *q.top_p;
  if (q.seed) j["seed"] = *q.seed;
  if (stream_id) j["stream"] = stream_id;  // a streamed reply runs alone
  return j.dump();
}

// OpenAI's sampling knobs over the model's generation_config.json: temperature 0 is greedy;
// a temperature or top_p without it samples.
generate::GenerationOverrides chat_overrides(const nlohmann::json& lane) {
  generate::GenerationOverrides ov;
  ov.max_new_tokens = lane["max"].get<int64_t>();
  const bool greedy = lane.contains("temperature") && lane["temperature"].get<double>() == 0.0;
  if (greedy) {
    ov.do_sample = false;
  } else {
    if (lane.contains("temperature")) {
      ov.do_sample = true;
      ov.temperature = lane["temperature"].get<double>();
    }
    if (lane.contains("top_p")) {
      ov.do_sample = true;
      ov.top_p = lane["top_p"].get<double>();
    }
  }
  if (lane.contains("seed")) ov.seed = lane["seed"].get<uint64_t>();
  return ov;
}

// OpenAI leaves the stop sequence out of the reply: cut at the earliest one.
std::size_t stop_position(const std::string& text, const std::vector<std::string>& stop) {
  std::size_t cut = std::string::npos;
  for (const auto& s : stop) cut = std::min(cut, text.find(s));
  return cut;
}

// The length of `text`'s longest suffix that is a proper prefix of a stop string: text that
// a stream must hold back until it knows whether a stop sequence begins there.
std::size_t stop_prefix_suffix(const std::string& text, const std::vector<std::string>& stop) {
  std::size_t keep = 0;
  for (const auto& s : stop) {
    for (std::size_t n = std::min(text.size(), s.size() - 1); n > keep; --n) {
      if (text.compare(text.size() - n, n, s, 0, n) == 0) {
        keep = n;
        break;
      }
    }
  }
  return keep;
}

std::string completion_id() {
  static std::atomic<uint64_t> next{0};
  static const auto start = static_cast<uint64_t>(std::time(nullptr));
  return fmt::format("chatcmpl-{:x}{:06x}", start, next.fetch_add(1));
}

// The rows of a classifier batch's outputs as one (N, L) tensor.
torch::Tensor logits_of(const std::vector<Output>& outs) {
  const auto labels = static_cast<int64_t>(outs.front().values.size());
  auto t = torch::empty({static_cast<int64_t>(outs.size()), labels});
  for (std::size_t i = 0; i < outs.size(); ++i) {
    std::copy(outs[i].values.begin(), outs[i].values.end(), t[static_cast<int64_t>(i)].data_ptr<float>());
  }
  return t;
}

}  // namespace

ModelSpec parse_model_spec(const std::string& arg) {
  ModelSpec spec;
  const auto eq = arg.find('=');
  if (eq != std::string::npos && eq > 0 && arg.find('/') > eq) {
    spec.name = arg.substr(0, eq);
    spec.dir = arg.substr(eq + 1);
  } else {
    spec.dir = arg;
  }
  if (spec.dir.empty()) throw InvalidArgument(fmt::format("--model '{}': no directory given", arg));
  if (spec.name.empty()) {
    std::filesystem::path p(spec.dir);
    while (!p.empty() && p.filename().empty()) p = p.parent_path();  // "dir/" -> "dir"
    spec.name = p.filename().string();
  }
  return spec;
}

struct Service::Model {
  ModelSpec spec;
  Kind kind = Kind::kEmbedding;
  std::unique_ptr<tasks::SentenceEncoder> encoder;        // kEmbedding
  std::unique_ptr<tasks::SequenceClassifier> classifier;  // kClassifier
  std::unique_ptr<tasks::TokenTagger> tagger;             // kTagger
  std::unique_ptr<tokenize::TranslationTokenizer> translation_tokenizer;  // kTranslation
  std::unique_ptr<generate::Seq2SeqGenerator> generator;                 // kTranslation
  std::unique_ptr<generate::TextGenerator> chat;                         // kChat
  std::string adapter;                                                   // kChat: a LoRA adapter on the base
  const tokenize::Tokenizer* tokenizer = nullptr;
  std::unique_ptr<ModelBatcher> batcher;
  std::size_t max_tokens = 0;
};

Service::Service(ServiceOptions options)
    : options_(std::move(options)), metrics_(registry_) {
  if (options_.models.empty()) throw InvalidArgument("xling serve: no model given");
  check_batcher_options(options_.batching);
  std::vector<ModelSpec> all = options_.models;
  all.insert(all.end(), options_.adapters.begin(), options_.adapters.end());
  for (std::size_t i = 0; i < all.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (all[i].name == all[j].name) {
        throw InvalidArgument(fmt::format("two models are named '{}' ({} and {}); name them with NAME=DIR", all[i].name,
                                          all[j].dir, all[i].dir));
      }
    }
  }
}

Service::~Service() { shutdown(); }

void Service::load() {
  executor_ = std::make_unique<SerialExecutor>();
  const auto load_options =
      models::LoadOptions::with_dtype(models::parse_compute_dtype(options_.dtype), models::parse_device(options_.device));
  // A model from its directory; `adapter`: a LoRA adapter directory served on top of an LLM.
  auto add_model = [&](const ModelSpec& spec, const std::string& adapter) {
    const auto t0 = Clock::now();
    auto m = std::make_unique<Model>();
    m->spec = spec;
    m->kind = detect_kind(spec.dir);
    m->adapter = adapter;
    ModelBatcher::Handlers h;
    std::string what;
    // Loaded on the model thread too: a parallel op on this one would start a second OpenMP team.
    executor_->run([&] {
      if (m->kind == Kind::kEmbedding) {
        m->encoder = std::make_unique<tasks::SentenceEncoder>(
            tasks::SentenceEncoder::load(spec.dir, std::nullopt, /*normalize=*/false, load_options));
        m->tokenizer = &m->encoder->tokenizer();
        m->max_tokens = m->encoder->max_length();
        what = fmt::format("embedding, dimension {}", m->encoder->dimension());
      } else if (m->kind == Kind::kClassifier) {
        m->classifier = std::make_unique<tasks::SequenceClassifier>(tasks::SequenceClassifier::load(spec.dir, load_options));
        m->tokenizer = &m->classifier->tokenizer();
        m->max_tokens = m->classifier->max_length();
        what = fmt::format("classifier, {} labels", m->classifier->num_labels());
      } else if (m->kind == Kind::kChat) {
        generate::CausalLoadOptions lo;
        lo.dtype = options_.dtype;
        lo.device = models::parse_device(options_.device);
        lo.adapter = adapter;
        m->chat = std::make_unique<generate::TextGenerator>(generate::TextGenerator::load(spec.dir, lo, "", "`xling serve`"));
        m->max_tokens = static_cast<std::size_t>(std::max<int64_t>(m->chat->context_length(), 0));
        what = adapter.empty() ? "chat" : fmt::format("chat, adapter {}", adapter);
        if (!m->chat->has_chat_template()) what += "; no chat template: /v1/chat/completions will refuse";
      } else if (m->kind == Kind::kTranslation) {
        m->translation_tokenizer =
            std::make_unique<tokenize::TranslationTokenizer>(tokenize::TranslationTokenizer::load(spec.dir));
        m->generator = std::make_unique<generate::Seq2SeqGenerator>(generate::Seq2SeqGenerator::load(
            spec.dir, options_.dtype, models::parse_device(options_.device), "`xling serve`"));
        m->max_tokens = m->translation_tokenizer->model_max_length();
        if (m->max_tokens == 0) m->max_tokens = 1024;
        what = fmt::format("translation, {}", m->translation_tokenizer->family_name());
      } else {
        m->tagger = std::make_unique<tasks::TokenTagger>(tasks::TokenTagger::load(spec.dir, load_options));
        m->tokenizer = &m->tagger->tokenizer();
        m->max_tokens = m->tagger->max_length();
        what = "token tagger";
      }
    });
    if (options_.max_input_tokens > 0) m->max_tokens = std::min(m->max_tokens, options_.max_input_tokens);
    Model* model = m.get();
    h.run = [model, executor = executor_.get()](std::vector<Item>& items) {
      std::vector<Output> out;
      executor->run([&] { out = run_batch(*model, items); });
      return out;
    };
    h.cost = [](const Item& it) { return it.tokens; };
    h.key = [](const Item& it) { return it.lane; };
    h.on_batch = metrics_.batch_observer(spec.name);
    h.on_queue_depth = metrics_.queue_observer(spec.name);
    auto bo = options_.batching;
    bo.padded_budget = true;  // the models run padded (B, T) tensors
    m->batcher = std::make_unique<ModelBatcher>(bo, std::move(h));
    std::cerr << fmt::format("xling serve: loaded '{}' from {} ({}, max {} tokens) in {:.1f} s\n", spec.name, spec.dir,
                             what, m->max_tokens, std::chrono::duration<double>(Clock::now() - t0).count());
    models_.push_back(std::move(m));
  };
  for (const auto& spec : options_.models) add_model(spec, "");
  for (const auto& a : options_.adapters) add_model({a.name, adapter_base(a).spec.dir}, a.dir);
  ready_ = true;
}

// One batch of one model, on the model thread: embeddings or logits from the items' encodings,
// entities from their texts, or translations.
std::vector<Output> Service::run_batch(Model& model, std::vector<Item>& items) {
  if (model.kind == Kind::kEmbedding || model.kind == Kind::kClassifier) {
    std::vector<tokenize::Encoding> encs;
    encs.reserve(items.size());
    for (auto& it : items) encs.push_back(std::move(*it.encoding));
    torch::Tensor rows;
    if (model.kind == Kind::kEmbedding) {
      tasks::EncodeOptions eo;
      eo.prompt_name = items.front().lane;
      eo.max_length = model.max_tokens;
      rows = model.encoder->encode_tokenized(encs, eo);
    } else {
      rows = model.classifier->logits_tokenized(encs, 0);
    }
    rows = rows.to(torch::kCPU, torch::kFloat32).contiguous();
    const float* p = rows.data_ptr<float>();
    const std::size_t d = static_cast<std::size_t>(rows.size(1));
    std::vector<Output> out(items.size());
    for (std::size_t i = 0; i < out.size(); ++i) out[i].values.assign(p + i * d, p + (i + 1) * d);
    return out;
  }
  std::vector<Output> out(items.size());
  if (model.kind == Kind::kChat) {
    const auto lane = nlohmann::json::parse(items.front().lane);
    const auto ov = chat_overrides(lane);
    const auto stop = lane["stop"].get<std::vector<std::string>>();
    torch::InferenceMode guard;
    if (items.size() == 1 && items.front().stream) {
      auto& s = *items.front().stream;
      try {
        auto r = model.chat->reply(items.front().prompt_ids, ov, stop, [&s](std::string_view t) {
          s.push(t);
          return !s.cancelled->load();
        });
        s.finish(r.finish_reason, r.ids.size());
        out[0].text = std::move(r.text);
        out[0].finish_reason = r.finish_reason;
        out[0].completion_tokens = r.ids.size();
      } catch (const std::exception& e) {
        s.finish("error", 0, e.what());
        throw;
      }
      return out;
    }
    std::vector<std::vector<int64_t>> prompts;
    for (auto& it : items) prompts.push_back(std::move(it.prompt_ids));
    auto replies = model.chat->reply_batch(prompts, ov, stop);
    for (std::size_t i = 0; i < out.size(); ++i) {
      auto& text = replies[i].text;
      if (const auto cut = stop_position(text, stop); cut != std::string::npos) text.resize(cut);
      out[i].text = std::move(text);
      out[i].finish_reason = replies[i].finish_reason;
      out[i].completion_tokens = replies[i].ids.size();
    }
    return out;
  }
  std::vector<std::string> texts;
  texts.reserve(items.size());
  for (auto& it : items) texts.push_back(std::move(it.text));
  if (model.kind == Kind::kTranslation) {
    const auto lane = parse_lane(items.front().lane);
    const auto& tok = *model.translation_tokenizer;
    generate::GenerationOverrides ov;
    if (lane.num_beams > 0) ov.num_beams = lane.num_beams;
    if (lane.max_new_tokens > 0) ov.max_new_tokens = lane.max_new_tokens;
    if (auto bos = tok.forced_bos(lane.tgt)) ov.forced_bos_token_id = *bos;
    tokenize::SourceOptions so;
    so.max_length = model.max_tokens;
    std::vector<std::vector<int64_t>> sources;
    for (const auto& t : texts) sources.push_back(tok.encode_source(t, lane.src, lane.tgt, so));
    torch::InferenceMode guard;
    auto decoded = generate::translate_sources(*model.generator, tok, sources, model.generator->options(ov));
    for (std::size_t i = 0; i < out.size(); ++i) out[i].text = std::move(decoded[i]);
    return out;
  }
  const auto agg = tasks::parse_aggregation(items.front().lane);  // the tagger
  auto ents = model.tagger->tag(texts, agg, 0, nullptr);
  for (std::size_t i = 0; i < out.size(); ++i) out[i].entities = std::move(ents[i]);
  return out;
}

void Service::shutdown() {
  for (auto& m : models_) {
    if (m->batcher) m->batcher->shutdown(/*drain=*/true);
  }
}

// The served LLM an adapter goes on: the one adapter_config.json's base_model_name_or_path
// names (its directory or its serving name), else the only LLM served.
Service::Model& Service::adapter_base(const ModelSpec& adapter) {
  std::vector<Model*> llms;
  for (auto& m : models_) {
    if (m->kind == Kind::kChat && m->adapter.empty()) llms.push_back(m.get());
  }
  if (llms.empty()) {
    throw InvalidArgument(fmt::format("--adapter {}={}: no decoder-only LLM is served to put it on", adapter.name, adapter.dir));
  }
  const auto cfg_path = std::filesystem::path(adapter.dir) / "adapter_config.json";
  std::string base;
  if (std::filesystem::exists(cfg_path)) {
    auto cfg = core::read_json_file(cfg_path.string());
    if (cfg.is_object() && cfg.contains("base_model_name_or_path") && cfg["base_model_name_or_path"].is_string()) {
      base = cfg["base_model_name_or_path"].get<std::string>();
    }
  }
  std::error_code ec;
  for (auto* m : llms) {
    if (!base.empty() && (m->spec.name == base || std::filesystem::equivalent(m->spec.dir, base, ec))) return *m;
  }
  if (llms.size() == 1) return *llms.front();
  std::vector<std::string> names;
  for (auto* m : llms) names.push_back(m->spec.name);
  throw InvalidArgument(fmt::format("--adapter {}={}: its base_model_name_or_path '{}' is none of the served LLMs ({}); "
                                    "serve one LLM per process, or name the base's directory there",
                                    adapter.name, adapter.dir, base, fmt::join(names, ", ")));
}

Service::Model& Service::pick(const std::optional<std::string>& name) {
  if (!name || name->empty()) return *models_.front();
  for (auto& m : models_) {
    if (m->spec.name == *name) return *m;
  }
  std::vector<std::string> known;
  for (const auto& m : models_) known.push_back(m->spec.name);
  throw error(404, "NotFound", fmt::format("model '{}' is not served here (models: {})", *name, fmt::join(known, ", ")));
}

Service::Model& Service::pick_for(const std::optional<std::string>& name, const std::string& path) {
  Model& m = pick(name);
  const Endpoint* e = find_endpoint(path);
  if (e && std::find(e->kinds.begin(), e->kinds.end(), m.kind) == e->kinds.end()) {
    throw error(400, kValidation, fmt::format("model '{}' is a {} model: {} is not served by it (use {})", m.spec.name,
                                              kind_name(m.kind), path, fmt::join(endpoints_of(m.kind), ", ")));
  }
  return m;
}

std::vector<Output> Service::run_items(Model& model, std::vector<Item> items, bool truncate,
                                       const std::shared_ptr<std::atomic<bool>>& cancelled, std::size_t* tokens) {
  std::size_t total = 0;
  std::optional<TranslationLane> translation;  // one lane for all of a /translate request's texts
  if (model.kind == Kind::kTranslation && !items.empty()) translation = parse_lane(items.front().lane);
  for (std::size_t i = 0; i < items.size(); ++i) {
    auto& it = items[i];
    std::size_t n = 0;
    if (model.kind == Kind::kEmbedding) {
      tasks::EncodeOptions eo;
      eo.prompt_name = it.lane;
      eo.max_length = model.max_tokens;
      it.encoding = model.encoder->tokenize(it.text, eo, &n);
    } else if (model.kind == Kind::kClassifier) {
      it.encoding = tasks::encode_truncated(*model.tokenizer, it.text, it.pair ? &*it.pair : nullptr, model.max_tokens,
                                            nullptr, &n);
    } else if (model.kind == Kind::kChat) {
      n = it.prompt_ids.size();
    } else if (translation) {
      n = model.translation_tokenizer->encode_source(it.text, translation->src, translation->tgt).size();
    } else {
      n = it.pair ? model.tokenizer->encode_pair(it.text, *it.pair).size() : model.tokenizer->encode(it.text).size();
    }
    if (n > model.max_tokens && !truncate) {
      throw error(422, kValidation,
                  fmt::format("input {} has {} tokens, more than the maximum of {} for model '{}'; send \"truncate\": "
                              "true to cut it",
                              i, n, model.max_tokens, model.spec.name));
    }
    it.tokens = std::min(n, model.max_tokens);
    total += it.tokens;
  }
  if (tokens) *tokens = total;
  auto flag = cancelled ? cancelled : std::make_shared<std::atomic<bool>>(false);
  const auto deadline = Clock::now() + options_.request_timeout;
  auto fut = model.batcher->submit(std::move(items), deadline, flag);
  if (fut.wait_until(deadline) != std::future_status::ready) {
    flag->store(true);
    throw error(504, "Timeout", fmt::format("the request did not finish within {} ms (--request-timeout-ms)",
                                            options_.request_timeout.count()));
  }
  auto outcome = fut.get();
  if (!outcome.ok()) throw outcome_error(outcome.status, outcome.error);
  metrics_.tokens.with({model.spec.name}).inc(static_cast<double>(total));
  return std::move(outcome.results);
}

std::vector<std::vector<float>> Service::embed(Model& model, const std::vector<std::string>& texts,
                                               const std::optional<std::string>& prompt_name, bool truncate,
                                               const std::shared_ptr<std::atomic<bool>>& cancelled,
                                               std::size_t* tokens) {
  std::string lane;  // items of one prompt share batches
  if (prompt_name) {
    prompt_text(model.encoder.get(), model.spec.name, *prompt_name);
    lane = *prompt_name;
  }
  std::vector<Item> items(texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) items[i] = text_item(texts[i], std::nullopt, lane);
  auto outs = run_items(model, std::move(items), truncate, cancelled, tokens);
  std::vector<std::vector<float>> vecs(outs.size());
  for (std::size_t i = 0; i < outs.size(); ++i) vecs[i] = std::move(outs[i].values);
  return vecs;
}

// OpenAI /v1/chat/completions: the conversation is rendered by the model's chat template and
// tokenized on this thread; replies of one lane (same decoding options) are batched, except
// streamed ones, which run alone and reach the client as server-sent events while they are
// generated (a client that leaves stops the generation).
HttpResponse Service::chat(const HttpRequest& req, const std::shared_ptr<std::atomic<bool>>& cancelled) {
  auto q = parse_chat_request(req.body, options_.limits);
  Model& m = pick_for(q.model, req.path);
  nlohmann::json messages = nlohmann::json::array();
  for (const auto& msg : q.messages) messages.push_back({{"role", msg.role}, {"content", msg.content}});
  auto ids = m.chat->encode_chat(messages, /*add_generation_prompt=*/true);  // template errors: 400
  const auto prompt = static_cast<int64_t>(ids.size());
  const int64_t context = m.chat->context_length();
  // No fixed context (ALiBi, dynamic NTK RoPE): no limit but max_tokens' own.
  const int64_t room = context > 0 ? context - prompt : std::numeric_limits<int64_t>::max();
  if (room <= 0 || (q.max_tokens && *q.max_tokens > room)) {
    throw error(400, kValidation,
                fmt::format("the conversation has {} tokens; {} it exceeds the context of {} tokens of model '{}'", prompt,
                            q.max_tokens ? fmt::format("with max_tokens {}", *q.max_tokens) : std::string("alone"),
                            context, m.spec.name));
  }
  const int max_tokens = q.max_tokens ? *q.max_tokens : static_cast<int>(std::min<int64_t>(512, room));
  static std::atomic<uint64_t> streams{0};
  Item item;
  item.lane = chat_lane_key(max_tokens, q, q.stream ? ++streams : 0);
  item.prompt_ids = std::move(ids);
  const std::string id = completion_id();
  const auto created = static_cast<int64_t>(std::time(nullptr));
  if (!q.stream) {
    std::vector<Item> items;
    items.push_back(std::move(item));
    auto outs = run_items(m, std::move(items), /*truncate=*/true, cancelled, nullptr);
    const auto& o = outs.front();
    nlohmann::json j = {
        {"id", id},
        {"object", "chat.completion"},
        {"created", created},
        {"model", m.spec.name},
        {"choices", {{{"index", 0},
                      {"message", {{"role", "assistant"}, {"content", tokenize::replace_invalid_utf8(o.text)}}},
                      {"finish_reason", o.finish_reason}}}},
        {"usage", {{"prompt_tokens", prompt}, {"completion_tokens", o.completion_tokens},
                   {"total_tokens", static_cast<std::size_t>(prompt) + o.completion_tokens}}}};
    return json_response(200, j.dump());
  }
  auto st = std::make_shared<ChatStream>();
  if (cancelled) st->cancelled = cancelled;
  item.stream = st;
  item.tokens = static_cast<std::size_t>(prompt);
  std::vector<Item> items;
  items.push_back(std::move(item));
  auto fut = std::make_shared<std::future<ModelBatcher::Outcome>>(
      m.batcher->submit(std::move(items), Clock::now() + options_.request_timeout, st->cancelled));
  if (fut->wait_for(std::chrono::seconds(0)) == std::future_status::ready) {  // refused at once (queue full)
    auto outcome = fut->get();
    if (!outcome.ok()) throw outcome_error(outcome.status, outcome.error);
  }
  HttpResponse r;
  r.content_type = "text/event-stream";
  r.stream = [st, fut, id, created, name = m.spec.name, stop = q.stop](const HttpResponse::Writer& write) {
    auto event = [&](const nlohmann::json& delta, const nlohmann::json& finish) {
      nlohmann::json j = {{"id", id}, {"object", "chat.completion.chunk"}, {"created", created}, {"model", name},
                          {"choices", {{{"index", 0}, {"delta", delta}, {"finish_reason", finish}}}}};
      return write("data: " + j.dump() + "\n\n");
    };
    auto leave = [&] {
      st->cancelled->store(true);
      return false;
    };
    if (!event({{"role", "assistant"}, {"content", ""}}, nullptr)) return leave();
    std::string held, reason, failure;
    bool done = false, stopped = false;
    while (!done) {
      std::string got;
      {
        std::unique_lock<std::mutex> lock(st->mu);
        st->cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return !st->pending.empty() || st->finished; });
        got.swap(st->pending);
        done = st->finished;
        reason = st->finish_reason;
        failure = st->error;
      }
      if (!done && got.empty()) {  // nothing yet: still queued, or dropped before it ran
        if (fut->valid() && fut->wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
          auto outcome = fut->get();
          if (!outcome.ok()) {
            failure = outcome_error(outcome.status, outcome.error).what();
            done = true;
          }
        }
        if (!done) continue;
      }
      if (stopped) continue;  // text after the stop sequence
      held += got;
      std::string emit;
      if (const auto cut = stop_position(held, stop); cut != std::string::npos) {
        emit = held.substr(0, cut);  // the stop sequence is left out, as OpenAI does
        held.clear();
        stopped = true;
      } else {
        const std::size_t keep = done ? 0 : stop_prefix_suffix(held, stop);
        emit = held.substr(0, held.size() - keep);
        held.erase(0, held.size() - keep);
      }
      if (!emit.empty() && !event({{"content", tokenize::replace_invalid_utf8(emit)}}, nullptr)) return leave();
    }
    if (!failure.empty()) {
      if (!write("data: " + nlohmann::json({{"error", {{"message", failure}, {"type", std::string(kBackend)}}}}).dump() +
                 "\n\n")) {
        return false;
      }
    } else if (!event(nlohmann::json::object(), reason)) {
      return leave();
    }
    return write("data: [DONE]\n\n");
  };
  return r;
}

HttpResponse Service::info() const {
  nlohmann::json models = nlohmann::json::array();
  for (const auto& m : models_) {
    nlohmann::json j = {{"name", m->spec.name},
                        {"dir", m->spec.dir},
                        {"kind", kind_name(m->kind)},
                        {"max_input_length", m->max_tokens},
                        {"endpoints", endpoints_of(m->kind)}};
    if (m->encoder) {
      j["dimension"] = m->encoder->dimension();
      j["normalizes"] = m->encoder->normalizes();
    } else if (m->classifier) {
      nlohmann::json labels = nlohmann::json::array();
      for (int64_t i = 0; i < m->classifier->num_labels(); ++i) labels.push_back(m->classifier->label(i));
      j["labels"] = labels;
    } else if (m->translation_tokenizer) {
      j["family"] = m->translation_tokenizer->family_name();
      j["languages"] = m->translation_tokenizer->languages();
    } else if (m->chat) {
      j["chat_template"] = m->chat->has_chat_template();
      if (!m->adapter.empty()) j["adapter"] = m->adapter;
    }
    models.push_back(std::move(j));
  }
  nlohmann::json j = {{"version", kVersion},
                      {"ready", ready()},
                      {"models", models},
                      {"max_batch_tokens", options_.batching.max_batch_tokens},
                      {"max_batch_requests", options_.batching.max_batch_items},
                      {"max_wait_ms", std::chrono::duration<double, std::milli>(options_.batching.max_wait).count()},
                      {"max_queue_items", options_.batching.max_queue_items},
                      {"max_client_batch_size", options_.limits.max_client_batch_size},
                      {"max_request_bytes", options_.limits.max_request_bytes},
                      {"auto_truncate", options_.auto_truncate},
                      {"auth", !options_.api_key.empty()}};
  return json_response(200, j.dump());
}

HttpResponse Service::handle(const HttpRequest& request, std::shared_ptr<std::atomic<bool>> cancelled) {
  const auto t0 = Clock::now();
  HttpResponse r;
  try {
    r = route(request, cancelled);
  } catch (const RequestError& e) {
    r = error_response(e.status(), e.type(), e.what());
    if (e.status() == 429) r.headers.emplace_back("Retry-After", "1");
  } catch (const InvalidArgument& e) {
    r = error_response(400, kValidation, e.what());
  } catch (const std::exception& e) {
    r = error_response(500, kBackend, e.what());
  }
  const std::string ep = find_endpoint(request.path) ? request.path : "other";
  metrics_.requests.with({ep, std::to_string(r.status)}).inc();
  metrics_.request_duration.with({ep}).observe(std::chrono::duration<double>(Clock::now() - t0).count());
  return r;
}

HttpResponse Service::route(const HttpRequest& req, const std::shared_ptr<std::atomic<bool>>& cancelled) {
  const std::string& path = req.path;
  const Endpoint* endpoint = find_endpoint(path);
  if (!endpoint) throw error(404, "NotFound", fmt::format("no endpoint {} (see /info and docs/http-api.md)", path));
  const bool get = std::string_view(endpoint->method) == "GET";
  if (!options_.api_key.empty() && path != "/health") {
    auto it = req.headers.find("authorization");
    if (it == req.headers.end() || it->second != "Bearer " + options_.api_key) {
      throw error(401, "Unauthorized", "missing or wrong API key (header 'Authorization: Bearer KEY')");
    }
  }
  if (req.method != endpoint->method && !(get && req.method == "HEAD")) {
    throw error(405, "MethodNotAllowed", fmt::format("{} takes {}, not {}", path, endpoint->method, req.method));
  }
  if (path == "/health") {
    if (!ready()) return error_response(503, "Unhealthy", "the models are loading");
    return json_response(200, R"({"status":"ok"})");
  }
  if (path == "/metrics") {
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = registry_.expose();
    return r;
  }
  if (path == "/info") return info();
  if (!ready()) throw error(503, "Unhealthy", "the models are loading; retry when /health answers 200");

  if (path == "/embed") {
    auto q = parse_embed_request(req.body, options_.limits);
    refuse_left_truncation(q.truncation_direction);
    Model& m = pick_for(q.model, path);
    auto vecs = embed(m, texts_of(q.inputs, "inputs"), q.prompt_name, q.truncate.value_or(options_.auto_truncate),
                      cancelled, nullptr);
    if (q.normalize && !m.encoder->normalizes()) {
      for (auto& v : vecs) l2_normalize(v);
    }
    return json_response(200, embeddings_to_json(vecs));
  }
  if (path == "/v1/embeddings") {
    auto q = parse_openai_embeddings_request(req.body, options_.limits);
    Model& m = pick_for(q.model, path);
    std::size_t tokens = 0;
    auto vecs = embed(m, texts_of(q.input, "input"), std::nullopt, options_.auto_truncate, cancelled, &tokens);
    if (q.dimensions) {
      const auto d = static_cast<std::size_t>(*q.dimensions);
      if (d > m.encoder->dimension()) {
        throw error(400, kValidation, fmt::format("dimensions {} is larger than the model's {}", d, m.encoder->dimension()));
      }
      for (auto& v : vecs) v.resize(d);
    }
    for (auto& v : vecs) l2_normalize(v);  // OpenAI's embeddings have unit length
    return json_response(200, openai_embeddings_response(vecs, m.spec.name, tokens,
                                                         q.encoding_format == EncodingFormat::kBase64));
  }
  if (path == "/rerank") {
    auto q = parse_rerank_request(req.body, options_.limits);
    refuse_left_truncation(q.truncation_direction);
    Model& m = pick_for(q.model, path);
    std::vector<Item> items(q.texts.size());
    for (std::size_t i = 0; i < q.texts.size(); ++i) items[i] = text_item(q.query, q.texts[i], "pair");
    auto outs = run_items(m, std::move(items), q.truncate.value_or(options_.auto_truncate), cancelled, nullptr);
    // sentence-transformers CrossEncoder.predict, as `xling rerank`
    const auto scores = tasks::relevance_from_logits(logits_of(outs), q.raw_scores).contiguous();
    std::vector<std::pair<float, std::size_t>> ranked;
    for (std::size_t i = 0; i < outs.size(); ++i) ranked.emplace_back(scores.data_ptr<float>()[i], i);
    std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    if (q.top_n && static_cast<std::size_t>(*q.top_n) < ranked.size()) ranked.resize(static_cast<std::size_t>(*q.top_n));
    std::string body = "[";
    for (std::size_t r = 0; r < ranked.size(); ++r) {
      body += fmt::format("{}{{\"index\":{},\"score\":", r ? "," : "", ranked[r].second);
      append_json_float(body, ranked[r].first);
      if (q.return_text) body += ",\"text\":" + nlohmann::json(q.texts[ranked[r].second]).dump();
      body += "}";
    }
    return json_response(200, body + "]");
  }
  if (path == "/predict") {
    auto q = parse_predict_request(req.body, options_.limits);
    refuse_left_truncation(q.truncation_direction);
    Model& m = pick_for(q.model, path);
    std::vector<Item> items(q.inputs.size());
    for (std::size_t i = 0; i < q.inputs.size(); ++i) {
      items[i] = text_item(q.inputs[i].text, q.inputs[i].text_pair, q.inputs[i].text_pair ? "pair" : "single");
    }
    auto outs = run_items(m, std::move(items), q.truncate.value_or(options_.auto_truncate), cancelled, nullptr);
    // the HF text-classification pipeline's scores, as `xling classify`
    auto logits = logits_of(outs);
    const auto probs = (q.raw_scores                          ? logits
                        : m.classifier->scores_with_sigmoid() ? torch::sigmoid(logits)
                                                              : torch::softmax(logits, 1))
                           .contiguous();
    const std::size_t labels = static_cast<std::size_t>(probs.size(1));
    std::string body = q.single_input ? "" : "[";
    for (std::size_t i = 0; i < outs.size(); ++i) {
      const float* p = probs.data_ptr<float>() + i * labels;
      std::vector<std::size_t> idx(labels);
      for (std::size_t k = 0; k < idx.size(); ++k) idx[k] = k;
      std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return p[a] > p[b]; });
      if (q.top_k && static_cast<std::size_t>(*q.top_k) < idx.size()) idx.resize(static_cast<std::size_t>(*q.top_k));
      body += i ? ",[" : "[";
      for (std::size_t k = 0; k < idx.size(); ++k) {
        body += fmt::format("{}{{\"label\":{},\"score\":", k ? "," : "",
                            nlohmann::json(m.classifier->label(static_cast<int64_t>(idx[k]))).dump());
        append_json_float(body, p[idx[k]]);
        body += "}";
      }
      body += "]";
    }
    if (!q.single_input) body += "]";
    return json_response(200, body);
  }
  if (path == "/tag") {
    auto q = parse_tag_request(req.body, options_.limits);
    Model& m = pick_for(q.model, path);
    static const char* names[] = {"none", "simple", "first", "average", "max"};
    const std::string lane = names[static_cast<int>(q.aggregation_strategy)];
    std::vector<Item> items(q.inputs.size());
    for (std::size_t i = 0; i < q.inputs.size(); ++i) items[i] = text_item(q.inputs[i], std::nullopt, lane);
    auto outs = run_items(m, std::move(items), q.truncate.value_or(options_.auto_truncate), cancelled, nullptr);
    const bool grouped = q.aggregation_strategy != AggregationStrategy::kNone;
    nlohmann::json out = nlohmann::json::array();
    for (const auto& o : outs) {
      nlohmann::json ents = nlohmann::json::array();
      for (const auto& e : o.entities) {
        if (std::find(q.ignore_labels.begin(), q.ignore_labels.end(), e.label) != q.ignore_labels.end()) continue;
        nlohmann::json j = {{grouped ? "entity_group" : "entity", e.label},
                            {"score", e.score},
                            {"word", e.word},
                            {"start", e.start},
                            {"end", e.end}};
        if (!grouped) j["index"] = e.index;
        ents.push_back(std::move(j));
      }
      out.push_back(std::move(ents));
    }
    return json_response(200, out.dump());
  }
  if (path == "/translate") {
    auto q = parse_translate_request(req.body, options_.limits);
    Model& m = pick_for(q.model, path);
    const auto& tok = *m.translation_tokenizer;
    TranslationLane lane;
    lane.src = q.source_lang.value_or("");
    lane.tgt = q.target_lang;
    lane.num_beams = q.num_beams.value_or(0);
    lane.max_new_tokens = q.max_new_tokens.value_or(0);
    // the language codes are checked here; the error lists the valid ones
    if (tok.uses_source_language()) {
      if (lane.src.empty()) {
        throw error(400, kValidation, fmt::format("model '{}' ({}) needs \"source_lang\"; valid codes: {}", m.spec.name,
                                                  tok.family_name(), fmt::join(tok.languages(), " ")));
      }
      tok.language_token_id(lane.src);
    }
    if (tok.uses_target_language()) tok.language_token_id(lane.tgt);
    const std::string key = lane_key(lane);
    std::vector<Item> items;
    std::vector<std::size_t> where;  // request position of each item; blank texts translate to ""
    for (std::size_t i = 0; i < q.text.size(); ++i) {
      if (q.text[i].find_first_not_of(" \t\r\n") == std::string::npos) continue;
      items.push_back(text_item(q.text[i], std::nullopt, key));
      where.push_back(i);
    }
    std::vector<std::string> out(q.text.size());
    if (!items.empty()) {
      auto outs = run_items(m, std::move(items), /*truncate=*/true, cancelled, nullptr);
      for (std::size_t k = 0; k < outs.size(); ++k) out[where[k]] = std::move(outs[k].text);
    }
    for (auto& t : out) t = tokenize::replace_invalid_utf8(t);
    return json_response(200, nlohmann::json({{"translations", out}, {"model", m.spec.name}}).dump());
  }
  if (path == "/v1/chat/completions") return chat(req, cancelled);
  if (path == "/tokenize") {
    auto q = parse_tokenize_request(req.body, options_.limits);
    Model& m = pick_for(q.model, path);
    const std::string prompt = q.prompt_name ? prompt_text(m.encoder.get(), m.spec.name, *q.prompt_name) : "";
    nlohmann::json out = nlohmann::json::array();
    for (const auto& text : q.inputs) {
      const std::string full = prompt + text;
      auto enc = m.tokenizer->encode(full, q.add_special_tokens);
      nlohmann::json toks = nlohmann::json::array();
      for (std::size_t i = 0; i < enc.size(); ++i) {
        const bool special = enc.special[i] != 0;
        nlohmann::json t = {{"id", enc.ids[i]}, {"special", special}};
        if (special) {
          t["text"] = enc.tokens[i];
          t["start"] = nullptr;
          t["stop"] = nullptr;
        } else {
          const auto [b, e] = enc.offsets[i];
          t["text"] = tokenize::replace_invalid_utf8(full.substr(b, e - b));
          t["start"] = b;
          t["stop"] = e;
        }
        toks.push_back(std::move(t));
      }
      out.push_back(std::move(toks));
    }
    return json_response(200, out.dump());
  }
  // /decode
  auto q = parse_decode_request(req.body, options_.limits);
  Model& m = pick_for(q.model, path);
  const auto& tok = *m.tokenizer;
  nlohmann::json out = nlohmann::json::array();
  for (std::size_t s = 0; s < q.ids.size(); ++s) {
    for (std::size_t i = 0; i < q.ids[s].size(); ++i) {
      if (static_cast<std::size_t>(q.ids[s][i]) >= tok.vocab_size()) {
        throw error(400, kValidation, fmt::format("ids[{}][{}] = {} is outside the vocabulary of model '{}' ({} tokens)",
                                                  s, i, q.ids[s][i], m.spec.name, tok.vocab_size()));
      }
    }
    out.push_back(tokenize::replace_invalid_utf8(tok.decode(q.ids[s], q.skip_special_tokens)));
  }
  return json_response(200, out.dump());
}

}  // namespace xling::serve
