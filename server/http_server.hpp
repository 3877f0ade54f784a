// `xling serve`'s HTTP transport: cpp-httplib (Debian's libcpp-httplib) in front of
// serve::Service. Owns sockets, the connection thread pool, timeouts, the body size limit and
// the in-flight request limit; every request body goes to the service as bytes, whatever its
// Content-Type.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "serve/service.hpp"

namespace xling::server {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                            // 0: any free port (printed, and port() after bind())
  std::size_t threads = 256;                  // connection threads: keep-alive clients each hold one
  std::size_t max_concurrent_requests = 512;  // requests inside the service at once; more -> 429
  std::size_t max_request_bytes = std::size_t{2} << 20;
  int read_timeout_s = 10;                    // a client that stalls mid-request is dropped (slow loris)
  int keep_alive_timeout_s = 5;
};

class HttpServer {
 public:
  HttpServer(HttpOptions options, serve::Service& service);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port; returns the port (the chosen one for port 0). IoError when it cannot bind.
  int bind();
  // Serves until stop(); returns after the connection threads finished their requests.
  void listen();
  // Thread-safe, also before listen() runs (listen() then returns at once). Returns when
  // listen() has returned, i.e. in-flight requests are answered.
  void stop();
  int port() const { return port_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

// True for 127.0.0.0/8, ::1 and "localhost": binding elsewhere without an API key needs
// --insecure-no-auth.
bool is_loopback(const std::string& host);

}  // namespace xling::server
