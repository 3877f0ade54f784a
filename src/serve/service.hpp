// `xling serve`'s logic: the models it hosts, one dynamic Batcher per model, and the endpoints
// (routing, API-key check, request validation, errors as {"error", "error_type"} with their
// HTTP status). Transport-agnostic: server/ turns HTTP into HttpRequest and back.
//
// Endpoints (docs/http-api.md): GET /health, /info, /metrics; POST /embed (TEI),
// /v1/embeddings (OpenAI), /rerank, /predict (TEI), /tag, /translate, /tokenize, /decode (TEI),
// /v1/chat/completions (OpenAI, streamed or not). A request names its model by "model"
// (default: the first one). What a model serves follows from its config.json: sequence
// classifiers /predict and /rerank, token classifiers /tag, encoder-decoder MT models
// /translate, decoder-only LLMs (and LoRA adapters served on them) /v1/chat/completions, other
// encoders the embedding endpoints.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "serve/batcher.hpp"
#include "serve/http_types.hpp"
#include "serve/metrics.hpp"
#include "serve/serial_executor.hpp"
#include "serve/requests.hpp"

namespace xling::serve {

namespace detail {
struct Item;    // service.cpp: one input as the batcher sees it
struct Output;  // service.cpp: its embedding, logits or entities
}  // namespace detail

struct ModelSpec {
  std::string name;  // what requests put in "model"
  std::string dir;   // a sentence-transformers or HF encoder directory
};

// "[NAME=]DIR" -> spec; the name defaults to the directory's last component.
ModelSpec parse_model_spec(const std::string& arg);

struct ServiceOptions {
  std::vector<ModelSpec> models;  // >= 1
  // LoRA adapters served as models of their own (NAME = what requests put in "model", dir = the
  // adapter directory) on the LLM that adapter_config.json names, else the only LLM served.
  std::vector<ModelSpec> adapters;
  Limits limits;
  BatcherOptions batching;
  std::size_t max_input_tokens = 0;  // per input; 0 = each model's maximum
  bool auto_truncate = false;        // what "truncate" means when a request leaves it out (TEI)
  std::chrono::milliseconds request_timeout{30000};  // queueing + compute; then 504
  std::string api_key;               // non-empty: "Authorization: Bearer KEY" required (not for /health)
  std::string dtype = "f32";
  std::string device = "cpu";
};

class Service {
 public:
  explicit Service(ServiceOptions options);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Loads every model (blocking; progress on stderr). Until it returns, model endpoints
  // answer 503. Throws what loading throws (file and value named).
  void load();
  bool ready() const { return ready_.load(); }

  // Never throws: every failure is an HttpResponse with a JSON error body. `cancelled`, when
  // given, is set by the transport when the client goes away; queued work is then dropped.
  HttpResponse handle(const HttpRequest& request, std::shared_ptr<std::atomic<bool>> cancelled = nullptr);

  // Stops the batchers after running what is queued (graceful shutdown).
  void shutdown();

  const ServiceOptions& options() const { return options_; }

 private:
  struct Model;
  HttpResponse route(const HttpRequest& request, const std::shared_ptr<std::atomic<bool>>& cancelled);
  Model& pick(const std::optional<std::string>& name);
  Model& adapter_base(const ModelSpec& adapter);
  HttpResponse chat(const HttpRequest& request, const std::shared_ptr<std::atomic<bool>>& cancelled);
  // pick(), and a 400 naming the endpoints the model does serve when it does not serve `path`.
  Model& pick_for(const std::optional<std::string>& name, const std::string& path);
  // Counts tokens (422 when over the maximum and not truncating), submits to the model's
  // batcher, waits; batcher outcomes become 429 / 504 / 503 / 500.
  std::vector<detail::Output> run_items(Model& model, std::vector<detail::Item> items, bool truncate,
                                        const std::shared_ptr<std::atomic<bool>>& cancelled, std::size_t* tokens);
  std::vector<std::vector<float>> embed(Model& model, const std::vector<std::string>& texts,
                                        const std::optional<std::string>& prompt_name, bool truncate,
                                        const std::shared_ptr<std::atomic<bool>>& cancelled, std::size_t* tokens);
  HttpResponse info() const;
  static std::vector<detail::Output> run_batch(Model& model, std::vector<detail::Item>& items);

  ServiceOptions options_;
  Registry registry_;
  ServeMetrics metrics_;
  // Every model's forward passes run on this one thread (declared before models_: their
  // batchers drain through it when they shut down).
  std::unique_ptr<SerialExecutor> executor_;
  std::vector<std::unique_ptr<Model>> models_;
  std::atomic<bool> ready_{false};
};

}  // namespace xling::serve
