// A small HTTP/1.1 listener for /metrics, on libmicrohttpd: one internal epoll
// thread, a bounded number of connections and a per-connection timeout, so that a
// scraper (or a flood of them) costs a bounded amount and never touches the gRPC
// server's threads or port.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct MHD_Daemon;

namespace zlayer::metrics {

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Called on the listener's thread, one request at a time; it may block (a scrape
// reads the backend), which delays only other scrapes.
using HttpHandler = std::function<HttpResponse(absl::string_view path)>;

class HttpEndpoint {
 public:
  // `address` is HOST:PORT: an IPv4 literal, [IPv6 literal], or "localhost"; port 0
  // picks a free one. Only GET and HEAD are served (405 otherwise).
  static absl::StatusOr<std::unique_ptr<HttpEndpoint>> Start(absl::string_view address,
                                                             HttpHandler handler);
  // Stops listening; once it returns no handler runs.
  ~HttpEndpoint();

  // The address actually bound, e.g. "127.0.0.1:9323" or "[::1]:9323".
  const std::string& address() const { return address_; }
  bool loopback() const { return loopback_; }

 private:
  HttpEndpoint() = default;

  HttpHandler handler_;
  MHD_Daemon* daemon_ = nullptr;
  std::string address_;
  bool loopback_ = false;

  friend struct HttpCallbacks;
};

}  // namespace zlayer::metrics
