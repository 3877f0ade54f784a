// xling serve: the HTTP server (server/http_server + serve/service). Binds first and answers
// 503 while the models load; SIGINT/SIGTERM stop accepting, finish in-flight requests, exit 0.
#include <chrono>
#include <csignal>
#include <iostream>
#include <thread>

#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "cli/common.hpp"
#include "io/model_location.hpp"
#include "server/http_server.hpp"
#include "serve/service.hpp"
#include "xling/errors.hpp"

namespace xling::cli {
namespace {

struct ServeOptions {
  std::vector<std::string> models, adapters;
  server::HttpOptions http;
  std::size_t max_batch_tokens = 8192, max_batch_requests = 256, max_queue = 4096, max_client_batch = 1024;
  double max_wait_ms = 0.0;
  std::size_t max_input_tokens = 0;
  std::size_t request_timeout_ms = 30000;
  std::string api_key;
  bool insecure_no_auth = false, auto_truncate = false;
  std::string device = "cpu", dtype = "f32";
};

int run_serve(ServeOptions& opt) {
  if (!server::is_loopback(opt.http.host) && opt.api_key.empty() && !opt.insecure_no_auth) {
    throw InvalidArgument(fmt::format(
        "--host {} is reachable from other machines: give --api-key KEY (or XLING_API_KEY), or --insecure-no-auth to "
        "serve without authentication",
        opt.http.host));
  }
  serve::ServiceOptions so;
  if (opt.models.empty()) opt.models.push_back(io::kDefaultModelName);
  for (const auto& m : opt.models) {
    auto spec = serve::parse_model_spec(m);
    spec.dir = io::resolve_model(spec.dir);  // a directory, or a shipped model's name
    so.models.push_back(spec);
  }
  for (const auto& a : opt.adapters) {
    const auto eq = a.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == a.size()) {
      throw InvalidArgument(fmt::format("--adapter '{}': expected NAME=DIR (the adapter is then served as model NAME)", a));
    }
    so.adapters.push_back({a.substr(0, eq), a.substr(eq + 1)});
  }
  so.limits.max_request_bytes = opt.http.max_request_bytes;
  so.limits.max_client_batch_size = opt.max_client_batch;
  so.batching.max_batch_tokens = opt.max_batch_tokens;
  so.batching.max_batch_items = opt.max_batch_requests;
  so.batching.max_queue_items = opt.max_queue;
  so.batching.max_wait = std::chrono::microseconds(static_cast<int64_t>(opt.max_wait_ms * 1000.0));
  so.max_input_tokens = opt.max_input_tokens;
  so.auto_truncate = opt.auto_truncate;
  so.request_timeout = std::chrono::milliseconds(opt.request_timeout_ms);
  so.api_key = opt.api_key;
  so.device = opt.device;
  so.dtype = opt.dtype;
  serve::Service service(so);

  // SIGINT/SIGTERM may arrive on any thread (torch's pools exist already, with signals
  // unblocked), so the handler only writes a byte to a pipe that a watcher thread reads.
  static int signal_pipe[2] = {-1, -1};
  if (pipe(signal_pipe) != 0) throw IoError("xling serve: cannot create the signal pipe");
  struct sigaction sa {};
  sa.sa_handler = [](int sig) {
    const char c = static_cast<char>(sig);
    [[maybe_unused]] auto n = write(signal_pipe[1], &c, 1);
  };
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  server::HttpServer http(opt.http, service);
  const int port = http.bind();
  std::cerr << fmt::format("xling serve: listening on http://{}:{} (loading {} model{})\n", opt.http.host, port,
                           so.models.size(), so.models.size() == 1 ? "" : "s")
            << std::flush;
  std::thread listener([&] { http.listen(); });
  std::thread watcher([&] {
    char sig = 0;
    while (read(signal_pipe[0], &sig, 1) < 0 && errno == EINTR) {
    }
    if (sig == 0) return;  // woken by the main thread: listen() has ended
    std::cerr << fmt::format("xling serve: {} received, finishing in-flight requests\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    http.stop();
  });
  auto wake_watcher = [&] {
    const char zero = 0;
    [[maybe_unused]] auto n = write(signal_pipe[1], &zero, 1);
  };
  try {
    service.load();
  } catch (...) {
    http.stop();
    listener.join();
    wake_watcher();
    watcher.join();
    throw;
  }
  std::cerr << "xling serve: ready\n" << std::flush;
  listener.join();
  wake_watcher();  // a no-op for a watcher that already handled a signal
  watcher.join();
  service.shutdown();
  std::cerr << "xling serve: stopped\n";
  return kExitOk;
}

}  // namespace

void add_serve_command(CLI::App& app, CommandList& commands) {
  auto opt = std::make_shared<ServeOptions>();
  CLI::App* sub = app.add_subcommand(
      "serve",
      "HTTP server for embeddings (TEI /embed, OpenAI /v1/embeddings), reranking (/rerank), classification "
      "(/predict), token tagging (/tag), translation (/translate), chat with decoder-only LLMs (OpenAI /v1/chat/completions, "
      "streamed or not; LoRA adapters served as models of their own), /tokenize, /decode, /health, /info and Prometheus "
      "/metrics, with requests "
      "of many clients merged into token-budget batches. A model serves what its config.json architectures say. Request bodies are JSON "
      "whatever the Content-Type; errors are {\"error\", \"error_type\"} with their status. See docs/http-api.md.");
  sub->add_option("--model,-m", opt->models,
                  "[NAME=]DIR, repeatable; a request picks one by its \"model\" field (default: the first; without "
                  "--model: the embedded xling-mini)");
  sub->add_option("--adapter", opt->adapters,
                  "NAME=DIR, repeatable: a PEFT LoRA adapter served as model NAME on the LLM its adapter_config.json "
                  "names (else the only LLM served); a request switches adapters by its \"model\" field");
  sub->add_option("--host", opt->http.host, "Address to bind")->envname("XLING_HOST")->capture_default_str();
  sub->add_option("--port", opt->http.port, "Port (0 = any free port, printed at start)")
      ->envname("XLING_PORT")
      ->capture_default_str();
  sub->add_option("--max-batch-tokens", opt->max_batch_tokens, "Token budget of a merged batch (padded)")
      ->capture_default_str();
  sub->add_option("--max-batch-requests", opt->max_batch_requests, "Texts per merged batch")->capture_default_str();
  sub->add_option("--max-wait-ms", opt->max_wait_ms, "How long a text waits for others to join its batch")
      ->capture_default_str();
  sub->add_option("--max-queue", opt->max_queue, "Texts waiting per model; more -> 429 with Retry-After")
      ->capture_default_str();
  sub->add_option("--max-concurrent-requests", opt->http.max_concurrent_requests,
                  "Requests handled at once; more -> 429")
      ->capture_default_str();
  sub->add_option("--max-input-tokens", opt->max_input_tokens,
                  "Tokens per input (0 = the model's maximum); longer -> 422 unless truncate")
      ->capture_default_str();
  sub->add_option("--max-request-bytes", opt->http.max_request_bytes, "Body size limit; larger -> 413")
      ->capture_default_str();
  sub->add_option("--max-client-batch-size", opt->max_client_batch, "Inputs per request; more -> 413")
      ->capture_default_str();
  sub->add_option("--request-timeout-ms", opt->request_timeout_ms, "Queue + compute time per request; then 504")
      ->capture_default_str();
  sub->add_option("--http-threads", opt->http.threads,
                  "Connection threads (each keep-alive client holds one while connected)")
      ->capture_default_str();
  sub->add_option("--read-timeout-s", opt->http.read_timeout_s,
                  "A client that sends nothing for this long mid-request is dropped (slow loris)")
      ->capture_default_str();
  sub->add_option("--api-key", opt->api_key, "Require 'Authorization: Bearer KEY' (all endpoints but /health)")
      ->envname("XLING_API_KEY");
  sub->add_flag("--insecure-no-auth", opt->insecure_no_auth, "Allow a non-loopback --host without --api-key");
  sub->add_flag("--auto-truncate", opt->auto_truncate,
                "Cut over-long inputs when a request does not say \"truncate\" (TEI's --auto-truncate)");
  add_compute_options(sub, opt->device, opt->dtype);
  commands.push_back({sub, [opt]() { return run_serve(*opt); }});
}

}  // namespace xling::cli
