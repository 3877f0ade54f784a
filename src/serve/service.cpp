// `xling serve`'s endpoints over the hosted models (see service.hpp).
#include "serve/service.hpp"

#include <cmath>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "models/registry.hpp"
#include "tasks/sentence_encoder.hpp"
#include "tokenize/unicode.hpp"
#include "xling/errors.hpp"
#include "xling/version.hpp"

namespace xling::serve {
namespace {

using Clock = std::chrono::steady_clock;

// One text of an embedding request, as the batcher sees it.
struct EmbedItem {
  std::string text;
  std::string prompt_name;  // the lane: items of one batch share their prompt
  std::size_t tokens = 0;   // after truncation: the batch budget's cost
};
using EmbedBatcher = Batcher<EmbedItem, std::vector<float>>;

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

std::string endpoint_label(const std::string& path) {
  static const char* known[] = {"/health", "/info", "/metrics", "/embed", "/v1/embeddings", "/tokenize", "/decode"};
  for (const char* k : known) {
    if (path == k) return path;
  }
  return "other";
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
  std::unique_ptr<tasks::SentenceEncoder> encoder;
  std::unique_ptr<EmbedBatcher> batcher;
  std::size_t max_tokens = 0;
};

Service::Service(ServiceOptions options)
    : options_(std::move(options)), metrics_(registry_), started_(Clock::now()) {
  if (options_.models.empty()) throw InvalidArgument("xling serve: no model given");
  check_batcher_options(options_.batching);
  for (std::size_t i = 0; i < options_.models.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (options_.models[i].name == options_.models[j].name) {
        throw InvalidArgument(fmt::format("two models are named '{}' ({} and {}); name them with NAME=DIR",
                                          options_.models[i].name, options_.models[j].dir, options_.models[i].dir));
      }
    }
  }
}

Service::~Service() { shutdown(); }

void Service::load() {
  for (const auto& spec : options_.models) {
    const auto t0 = Clock::now();
    auto m = std::make_unique<Model>();
    m->spec = spec;
    m->encoder = std::make_unique<tasks::SentenceEncoder>(tasks::SentenceEncoder::load(
        spec.dir, std::nullopt, /*normalize=*/false,
        models::LoadOptions::with_dtype(models::parse_compute_dtype(options_.dtype), models::parse_device(options_.device))));
    m->max_tokens = m->encoder->max_length();
    if (options_.max_input_tokens > 0) m->max_tokens = std::min(m->max_tokens, options_.max_input_tokens);
    tasks::SentenceEncoder* enc = m->encoder.get();
    const std::size_t max_tokens = m->max_tokens;
    EmbedBatcher::Handlers h;
    h.run = [enc, max_tokens](std::vector<EmbedItem>& items) {
      std::vector<std::string> texts;
      texts.reserve(items.size());
      for (auto& it : items) texts.push_back(std::move(it.text));
      tasks::EncodeOptions eo;
      eo.prompt_name = items.front().prompt_name;
      eo.max_length = max_tokens;
      torch::Tensor emb = enc->encode(texts, eo).contiguous();
      std::vector<std::vector<float>> out(items.size());
      const float* p = emb.data_ptr<float>();
      const std::size_t d = static_cast<std::size_t>(emb.size(1));
      for (std::size_t i = 0; i < out.size(); ++i) out[i].assign(p + i * d, p + (i + 1) * d);
      return out;
    };
    h.cost = [](const EmbedItem& it) { return it.tokens; };
    h.key = [](const EmbedItem& it) { return it.prompt_name; };
    h.on_batch = metrics_.batch_observer(spec.name);
    h.on_queue_depth = metrics_.queue_observer(spec.name);
    auto bo = options_.batching;
    bo.padded_budget = true;  // encoder batches are padded (B, T) tensors
    m->batcher = std::make_unique<EmbedBatcher>(bo, std::move(h));
    std::cerr << fmt::format("xling serve: loaded '{}' from {} (embedding, dimension {}, max {} tokens) in {:.1f} s\n",
                             spec.name, spec.dir, enc->dimension(), m->max_tokens,
                             std::chrono::duration<double>(Clock::now() - t0).count());
    models_.push_back(std::move(m));
  }
  ready_ = true;
}

void Service::shutdown() {
  for (auto& m : models_) {
    if (m->batcher) m->batcher->shutdown(/*drain=*/true);
  }
}

Service::Model& Service::pick(const std::optional<std::string>& name) {
  if (!name || name->empty()) return *models_.front();
  for (auto& m : models_) {
    if (m->spec.name == *name) return *m;
  }
  std::string known;
  for (const auto& m : models_) known += (known.empty() ? "" : ", ") + m->spec.name;
  throw error(404, "NotFound", fmt::format("model '{}' is not served here (models: {})", *name, known));
}

std::vector<std::vector<float>> Service::embed(Model& model, const std::vector<std::string>& texts,
                                               const std::optional<std::string>& prompt_name, bool truncate,
                                               const std::shared_ptr<std::atomic<bool>>& cancelled,
                                               std::size_t* tokens) {
  tasks::EncodeOptions eo;
  if (prompt_name) {
    if (!model.encoder->prompts().count(*prompt_name)) {
      std::string known;
      for (const auto& [k, v] : model.encoder->prompts()) known += (known.empty() ? "" : ", ") + k;
      throw error(400, kValidation, fmt::format("prompt_name '{}' is not a prompt of model '{}' (prompts: {})",
                                                *prompt_name, model.spec.name, known.empty() ? "none" : known));
    }
    eo.prompt_name = *prompt_name;
  }
  std::vector<EmbedItem> items(texts.size());
  std::size_t total = 0;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const std::size_t n = model.encoder->count_tokens(texts[i], eo);
    if (n > model.max_tokens && !truncate) {
      throw error(422, kValidation,
                  fmt::format("inputs[{}] has {} tokens, more than the maximum of {} for model '{}'; send \"truncate\": "
                              "true to cut it",
                              i, n, model.max_tokens, model.spec.name));
    }
    items[i] = {texts[i], eo.prompt_name, std::min(n, model.max_tokens)};
    total += items[i].tokens;
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
  switch (outcome.status) {
    case BatchStatus::kOk:
      metrics_.tokens.with({model.spec.name}).inc(static_cast<double>(total));
      return std::move(outcome.results);
    case BatchStatus::kQueueFull:
      throw error(429, "Overloaded", "the queue is full; retry later");
    case BatchStatus::kTimedOut:
      throw error(504, "Timeout", "the request timed out in the queue");
    case BatchStatus::kCancelled:
      throw error(499, "Cancelled", "the client went away");
    case BatchStatus::kShutdown:
      throw error(503, "Unhealthy", "the server is shutting down");
    case BatchStatus::kFailed:
      break;
  }
  throw error(500, kBackend, outcome.error);
}

HttpResponse Service::info() const {
  nlohmann::json models = nlohmann::json::array();
  for (const auto& m : models_) {
    models.push_back({{"name", m->spec.name},
                      {"dir", m->spec.dir},
                      {"kind", "embedding"},
                      {"dimension", m->encoder->dimension()},
                      {"max_input_length", m->max_tokens},
                      {"normalizes", m->encoder->normalizes()}});
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
  const std::string ep = endpoint_label(request.path);
  metrics_.requests.with({ep, std::to_string(r.status)}).inc();
  metrics_.request_duration.with({ep}).observe(std::chrono::duration<double>(Clock::now() - t0).count());
  return r;
}

HttpResponse Service::route(const HttpRequest& req, const std::shared_ptr<std::atomic<bool>>& cancelled) {
  const std::string& path = req.path;
  const bool get = path == "/health" || path == "/info" || path == "/metrics";
  const bool post = path == "/embed" || path == "/v1/embeddings" || path == "/tokenize" || path == "/decode";
  if (!get && !post) {
    throw error(404, "NotFound", fmt::format("no endpoint {} (see /info and docs/http-api.md)", path));
  }
  if (!options_.api_key.empty() && path != "/health") {
    auto it = req.headers.find("authorization");
    if (it == req.headers.end() || it->second != "Bearer " + options_.api_key) {
      throw error(401, "Unauthorized", "missing or wrong API key (header 'Authorization: Bearer KEY')");
    }
  }
  if (get && req.method != "GET" && req.method != "HEAD") {
    throw error(405, "MethodNotAllowed", fmt::format("{} takes GET, not {}", path, req.method));
  }
  if (post && req.method != "POST") {
    throw error(405, "MethodNotAllowed", fmt::format("{} takes POST, not {}", path, req.method));
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
    if (q.truncation_direction == TruncationDirection::kLeft) {
      throw error(400, kValidation, "truncation_direction \"left\" is not supported; inputs are cut on the right");
    }
    Model& m = pick(q.model);
    auto vecs = embed(m, texts_of(q.inputs, "inputs"), q.prompt_name, q.truncate.value_or(options_.auto_truncate),
                      cancelled, nullptr);
    if (q.normalize && !m.encoder->normalizes()) {
      for (auto& v : vecs) l2_normalize(v);
    }
    return json_response(200, embeddings_to_json(vecs));
  }
  if (path == "/v1/embeddings") {
    auto q = parse_openai_embeddings_request(req.body, options_.limits);
    Model& m = pick(q.model);
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
  if (path == "/tokenize") {
    auto q = parse_tokenize_request(req.body, options_.limits);
    Model& m = pick(q.model);
    std::string prompt;
    if (q.prompt_name) {
      auto it = m.encoder->prompts().find(*q.prompt_name);
      if (it == m.encoder->prompts().end()) {
        throw error(400, kValidation, fmt::format("prompt_name '{}' is not a prompt of model '{}'", *q.prompt_name, m.spec.name));
      }
      prompt = it->second;
    }
    nlohmann::json out = nlohmann::json::array();
    for (const auto& text : q.inputs) {
      const std::string full = prompt + text;
      auto enc = m.encoder->tokenizer().encode(full, q.add_special_tokens);
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
  Model& m = pick(q.model);
  const auto& tok = m.encoder->tokenizer();
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
