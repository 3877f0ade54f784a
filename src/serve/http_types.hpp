// The HTTP exchange as serve::Service sees it, independent of the HTTP library: server/ fills an
// HttpRequest from the wire and writes the HttpResponse back, so the service's routing, auth,
// limits and error mapping are tested without sockets.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xling::serve {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query string
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (Retry-After, ...)
  // A streamed body (server-sent events) instead of `body`: the transport calls it once, on the
  // connection's thread, with a writer that sends one chunk and returns false when the client
  // has gone; it returns when the stream is complete (false: cut short).
  using Writer = std::function<bool(std::string_view)>;
  std::function<bool(const Writer&)> stream;
};

}  // namespace xling::serve
