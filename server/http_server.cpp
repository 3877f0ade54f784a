// cpp-httplib transport of `xling serve` (see http_server.hpp).
#include "server/http_server.hpp"

#include "server/disconnect_watcher.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <thread>

#include <sys/socket.h>

#include <fmt/format.h>
#include <httplib.h>

#include "serve/requests.hpp"
#include "xling/errors.hpp"

namespace xling::server {

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

struct HttpServer::Impl {
  HttpOptions options;
  serve::Service& service;
  httplib::Server http;
  std::atomic<std::size_t> in_flight{0};
  int listen_fd = -1;  // recorded by the socket-options hook, to widen the accept backlog
  DisconnectWatcher watcher;  // sets a waiting request's cancel flag when its client leaves
  std::atomic<bool> in_listen{false}, stopping{false};

  Impl(HttpOptions o, serve::Service& s) : options(std::move(o)), service(s) {}

  void handle(const httplib::Request& req, std::string body, httplib::Response& res) {
    serve::HttpResponse out;
    const std::size_t now = in_flight.fetch_add(1) + 1;
    if (now > options.max_concurrent_requests) {
      out.status = 429;
      out.body = serve::error_body("Overloaded", fmt::format("more than {} requests in flight (--max-concurrent-requests); retry later",
                                                              options.max_concurrent_requests));
      out.headers.emplace_back("Retry-After", "1");
    } else {
      serve::HttpRequest r;
      r.method = req.method;
      r.path = req.path;
      r.body = std::move(body);
      for (const auto& [k, v] : req.headers) {
        std::string key = k;
        std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
        r.headers.emplace(std::move(key), v);
      }
      auto cancelled = std::make_shared<std::atomic<bool>>(false);
      auto registration = watcher.watch(req.remote_addr, req.remote_port, req.local_port, cancelled);
      out = service.handle(r, cancelled);
    }
    in_flight.fetch_sub(1);
    res.status = out.status;
    for (const auto& [k, v] : out.headers) res.set_header(k, v);
    if (req.method == "HEAD") return;
    if (out.stream) {
      res.set_header("Cache-Control", "no-cache");
      res.set_chunked_content_provider(out.content_type, [stream = std::move(out.stream)](std::size_t, httplib::DataSink& sink) {
        const bool complete = stream([&sink](std::string_view chunk) { return sink.write(chunk.data(), chunk.size()); });
        if (complete) sink.done();
        return complete;
      });
      return;
    }
    res.set_content(out.body, out.content_type);
  }
};

HttpServer::HttpServer(HttpOptions options, serve::Service& service)
    : impl_(std::make_unique<Impl>(std::move(options), service)) {
  auto& http = impl_->http;
  const std::size_t threads = std::max<std::size_t>(impl_->options.threads, 2);
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http.set_payload_max_length(impl_->options.max_request_bytes);
  http.set_read_timeout(impl_->options.read_timeout_s, 0);
  http.set_write_timeout(impl_->options.read_timeout_s, 0);
  http.set_keep_alive_timeout(impl_->options.keep_alive_timeout_s);
  http.set_keep_alive_max_count(100000);
  // httplib writes headers and body separately: with Nagle's algorithm and the client's delayed
  // ACK every keep-alive response waited ~40 ms (measured: 52 ms p50 for one sentence).
  http.set_tcp_nodelay(true);
  Impl* impl = impl_.get();
  http.set_socket_options([impl](socket_t sock) {
    httplib::default_socket_options(sock);  // SO_REUSEADDR / SO_REUSEPORT as before
    impl->listen_fd = sock;
  });
  auto h = [impl](const httplib::Request& req, httplib::Response& res) { impl->handle(req, req.body, res); };
  // Bodies are read here rather than by httplib's own reader: that one parses form-encoded
  // bodies (what `curl -d` sends) and refuses those over 8 KiB with 413 before any handler
  // runs, while the service reads every body as JSON whatever its Content-Type.
  auto with_body = [impl](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& read) {
    std::string body;
    auto append = [&body](const char* data, std::size_t n) {
      body.append(data, n);
      return true;
    };
    const bool ok = req.is_multipart_form_data() ? read([](const httplib::MultipartFormData&) { return true; }, append)
                                                 : read(append);
    if (!ok) {  // over --max-request-bytes (413, set by httplib) or a broken body; the error handler writes the JSON
      if (res.status != 413) res.status = 400;
      return;
    }
    impl->handle(req, std::move(body), res);
  };
  const std::string any = R"(/.*)";
  http.Get(any, h);
  http.Post(any, with_body);
  http.Put(any, with_body);
  http.Delete(any, with_body);
  http.Patch(any, with_body);
  http.Options(any, h);
  // Errors httplib answers itself (413 over the body limit, 400 for a malformed request line)
  // get the same JSON body as the service's.
  http.set_error_handler([impl](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string type = "Validation", message = "malformed HTTP request";
    if (res.status == 413) {
      type = std::string(serve::kPayloadTooLarge);
      message = fmt::format("the request body is larger than {} bytes (--max-request-bytes)", impl->options.max_request_bytes);
    } else if (res.status == 404) {
      type = "NotFound";
      message = "no such endpoint";
    } else if (res.status >= 500) {
      type = std::string(serve::kBackend);
      message = "internal error";
    }
    res.set_content(serve::error_body(type, message), "application/json");
  });
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string message = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      message = e.what();
    } catch (...) {
    }
    res.status = 500;
    res.set_content(serve::error_body(serve::kBackend, message), "application/json");
  });
}

HttpServer::~HttpServer() { stop(); }

int HttpServer::bind() {
  auto& http = impl_->http;
  const auto& o = impl_->options;
  if (o.port == 0) {
    port_ = http.bind_to_any_port(o.host);
    if (port_ <= 0) throw IoError(fmt::format("xling serve: cannot bind {} (any port)", o.host));
  } else {
    if (!http.bind_to_port(o.host, o.port)) {
      throw IoError(fmt::format("xling serve: cannot bind {}:{} (in use, or not an address of this machine)", o.host, o.port));
    }
    port_ = o.port;
  }
  // cpp-httplib listens with a backlog of 5: 64 clients connecting at once overflow it and
  // lose connections. Calling listen() again on the bound socket sets the backlog.
  if (impl_->listen_fd >= 0) ::listen(impl_->listen_fd, SOMAXCONN);
  return port_;
}

void HttpServer::listen() {
  impl_->in_listen = true;
  if (!impl_->stopping) impl_->http.listen_after_bind();
  impl_->in_listen = false;
}

void HttpServer::stop() {
  if (!impl_) return;
  impl_->stopping = true;
  // httplib's stop() is a no-op until its loop runs: repeat it while listen() has not returned.
  // (listen() sets in_listen before reading stopping, and this reads in_listen after setting
  // stopping, so one of the two sees the other.)
  while (impl_->in_listen) {
    impl_->http.stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace xling::server
