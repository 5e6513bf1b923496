#include "metrics/http_endpoint.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/unique_fd.h"

namespace zlayer::metrics {

struct HttpCallbacks {
  static MHD_Result Access(void* cls, MHD_Connection* connection, const char* url,
                           const char* method, const char*, const char*, size_t* upload_size,
                           void** request_state) {
    // The first call sees only the headers; answering on the second lets MHD deal
    // with "Expect: 100-continue" and request bodies the usual way.
    static int seen_headers;
    if (*request_state == nullptr) {
      *request_state = &seen_headers;
      return MHD_YES;
    }
    *upload_size = 0;  // any body is read and ignored
    HttpResponse response;
    const bool head = std::strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (!head && std::strcmp(method, MHD_HTTP_METHOD_GET) != 0) {
      response.status = MHD_HTTP_METHOD_NOT_ALLOWED;
      response.body = "only GET and HEAD are served here\n";
    } else {
      response = static_cast<HttpEndpoint*>(cls)->handler_(url ? url : "/");
    }
    MHD_Response* reply = MHD_create_response_from_buffer(
        response.body.size(), response.body.data(), MHD_RESPMEM_MUST_COPY);
    if (!reply) return MHD_NO;
    MHD_add_response_header(reply, MHD_HTTP_HEADER_CONTENT_TYPE, response.content_type.c_str());
    if (response.status == MHD_HTTP_METHOD_NOT_ALLOWED) {
      MHD_add_response_header(reply, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    }
    const MHD_Result queued = MHD_queue_response(connection, response.status, reply);
    MHD_destroy_response(reply);
    return queued;
  }
};

namespace {

struct ParsedAddress {
  std::string host, port;
};

absl::StatusOr<ParsedAddress> SplitHostPort(absl::string_view address) {
  const auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "metrics address '", address, "': expected HOST:PORT, e.g. 127.0.0.1:9323 or [::1]:9323"));
  };
  const auto colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon + 1 == address.size()) return bad();
  ParsedAddress out{std::string(address.substr(0, colon)), std::string(address.substr(colon + 1))};
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  } else if (out.host.find(':') != std::string::npos) {
    return bad();
  }
  unsigned port;
  if (out.host.empty() || !absl::SimpleAtoi(out.port, &port) || port > 65535) return bad();
  if (out.host == "localhost") out.host = "127.0.0.1";
  return out;
}

bool IsLoopback(const sockaddr_storage& addr) {
  if (addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
  return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
}

std::string FormatAddress(const sockaddr_storage& addr) {
  char host[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    return absl::StrCat(host, ":", ntohs(in->sin_port));
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
  ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
  return absl::StrCat("[", host, "]:", ntohs(in6->sin6_port));
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpEndpoint>> HttpEndpoint::Start(absl::string_view address,
                                                                  HttpHandler handler) {
  auto parsed = SplitHostPort(address);
  if (!parsed.ok()) return parsed.status();
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(parsed->host.c_str(), parsed->port.c_str(), &hints, &found); rc != 0) {
    return absl::InvalidArgumentError(absl::StrCat("metrics address '", address,
                                                   "': ", ::gai_strerror(rc),
                                                   "; use an IP literal or localhost"));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(found, &::freeaddrinfo);

  std::unique_ptr<HttpEndpoint> endpoint(new HttpEndpoint());
  endpoint->handler_ = std::move(handler);
  // Ours until MHD starts; MHD_stop_daemon closes it from then on.
  base::UniqueFd listener(::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener) {
    return absl::InternalError(absl::StrCat("metrics: socket: ", std::strerror(errno)));
  }
  const int one = 1;
  ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(listener.get(), found->ai_addr, found->ai_addrlen) != 0 ||
      ::listen(listener.get(), 64) != 0) {
    const int err = errno;
    const auto code =
        err == EADDRINUSE ? absl::StatusCode::kAlreadyExists : absl::StatusCode::kUnavailable;
    return absl::Status(code, absl::StrCat("metrics: cannot listen on ", address, ": ",
                                           std::strerror(err), "; choose another metrics.address"));
  }
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&bound), &length);
  endpoint->address_ = FormatAddress(bound);
  endpoint->loopback_ = IsLoopback(bound);

  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
  if (found->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
  endpoint->daemon_ = MHD_start_daemon(
      flags, 0, nullptr, nullptr, &HttpCallbacks::Access, endpoint.get(), MHD_OPTION_LISTEN_SOCKET,
      listener.get(),
      // A scraper holds one connection; a few dozen is plenty, and a flood of idle
      // connections is cut off instead of growing without bound.
      MHD_OPTION_CONNECTION_LIMIT, 32u, MHD_OPTION_CONNECTION_TIMEOUT, 15u,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<size_t>(64 * 1024), MHD_OPTION_END);
  if (!endpoint->daemon_) {
    return absl::InternalError(
        absl::StrCat("metrics: could not start the HTTP listener on ", endpoint->address_));
  }
  (void)listener.Release();
  return endpoint;
}

HttpEndpoint::~HttpEndpoint() {
  if (daemon_) MHD_stop_daemon(daemon_);
}

}  // namespace zlayer::metrics
