// A small blocking HTTP client over libcurl for the distribution API.
//
// One HttpClient is one curl easy handle: use it from one thread at a time. Pulls
// make one per download worker, so connections are reused across a worker's blobs.
#pragma once

#include <curl/curl.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace zlayer::images {

// TLS trust shared by every client of a store: the system CAs plus an optional
// extra PEM bundle, parsed once.
class TlsTrust {
 public:
  // An empty path means the system CAs only. INVALID_ARGUMENT if the file holds no
  // certificate, NOT_FOUND if it is missing.
  static absl::StatusOr<std::shared_ptr<const TlsTrust>> Load(const std::string& extra_ca_file);
  ~TlsTrust();
  // Adds the extra certificates to an OpenSSL SSL_CTX's store.
  void AddTo(void* ssl_ctx) const;
  bool has_extra() const { return !certs_.empty(); }

 private:
  TlsTrust() = default;
  std::vector<void*> certs_;  // X509*, owned
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  // Blob downloads follow redirects (to object storage); API calls do not.
  bool follow_redirects = false;
  // Skip certificate verification (only for hosts the operator lists as insecure).
  bool insecure_tls = false;
  std::string body;  // request body for PUT/POST
  // Streams the response body of a 2xx answer; returning false aborts the transfer
  // (the call then returns CANCELLED). Non-2xx bodies are always collected (bounded)
  // into HttpResponse::body so errors can be reported.
  std::function<bool(const char* data, size_t len)> on_body;
  // Called with the final status just before the first on_body call.
  std::function<void(long status)> on_status;
  size_t max_collected_body = 8 << 20;
  // 0 = unlimited. Bytes per second, for operators on thin links (and for tests that
  // need a transfer to be slow enough to interrupt).
  uint64_t max_recv_speed = 0;
  absl::Duration connect_timeout = absl::Seconds(30);
  // A transfer below 1 KiB/s for this long is abandoned as stalled.
  absl::Duration stall_timeout = absl::Seconds(60);
};

struct HttpResponse {
  long status = 0;
  std::string body;                           // see HttpRequest::on_body
  std::multimap<std::string, std::string> headers;  // names lower-cased; last response only
  std::string effective_url;

  // The first header of that (lower-case) name, or "".
  std::string Header(const std::string& lower_name) const;
};

class HttpClient {
 public:
  explicit HttpClient(std::shared_ptr<const TlsTrust> trust);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Performs the request. Transport failures: UNAVAILABLE when retrying may help
  // (refused, reset, timeout), FAILED_PRECONDITION when it cannot (TLS certificate
  // not trusted), CANCELLED when on_body aborted. Any HTTP status is returned as a
  // response, not an error.
  absl::StatusOr<HttpResponse> Do(const HttpRequest& request);

  // True when the last failure was a TLS handshake failure (e.g. plain HTTP server),
  // which is when a caller may fall back to http:// for an insecure registry.
  bool last_error_was_tls_handshake() const { return last_tls_handshake_error_; }

 private:
  std::shared_ptr<const TlsTrust> trust_;
  CURL* curl_ = nullptr;
  bool last_tls_handshake_error_ = false;
};

// Makes curl's global state ready; safe to call many times from any thread.
void EnsureCurlInitialised();

}  // namespace zlayer::images
