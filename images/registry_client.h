// The OCI distribution protocol for one repository: ping, auth, manifests, blobs.
//
// Thread-safe: download workers share one RegistryClient (and so one token), each
// with an HttpClient of its own.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/service_spec.h"
#include "images/http_client.h"
#include "images/manifest.h"

namespace zlayer::images {

// How a registry host may be reached.
struct HostPolicy {
  // Listed as insecure by the operator: https without verification, then http.
  bool insecure = false;
  // Loopback: https with verification, falling back to http (as Docker does).
  bool loopback = false;
  bool allow_http() const { return insecure || loopback; }
};

// Is `host` ("127.0.0.1:5000", "[::1]:80", "localhost") a loopback address?
bool IsLoopbackHost(const std::string& host);

struct FetchedManifest {
  std::string body;
  std::string media_type;
  std::string digest;  // sha256 of body, checked against the request's digest
};

class RegistryClient {
 public:
  struct Options {
    std::string api_host;    // "registry-1.docker.io", "127.0.0.1:5000"
    std::string repository;  // "library/busybox"
    HostPolicy policy;
    std::optional<core::RegistryAuth> credentials;
    std::shared_ptr<const TlsTrust> trust;
    uint64_t max_recv_speed = 0;
  };
  explicit RegistryClient(Options options) : options_(std::move(options)) {}

  // GETs a manifest by tag or digest. NOT_FOUND when the registry has no such
  // manifest, PERMISSION_DENIED when it refuses us, UNAVAILABLE for transport errors,
  // 5xx and 429, INVALID_ARGUMENT when a by-digest answer does not match.
  absl::StatusOr<FetchedManifest> GetManifest(HttpClient& http, const std::string& selector);

  // Streams a blob's bytes into `sink` (following redirects). Does not verify: the
  // caller hashes while it stores. Same codes as GetManifest; CANCELLED if the sink
  // returned false.
  // With `offset` > 0 it asks for the rest only (Range); `on_status` then tells
  // whether the registry honoured that (206) or sent the whole blob (200).
  absl::Status GetBlob(HttpClient& http, const std::string& digest,
                       const std::function<bool(const char*, size_t)>& sink,
                       uint64_t offset = 0,
                       const std::function<void(long status)>& on_status = nullptr);

  std::string Describe() const { return options_.api_host + "/" + options_.repository; }

 private:
  absl::Status EnsurePinged(HttpClient& http);
  // Sends with the current Authorization; on 401 answers the challenge once.
  absl::StatusOr<HttpResponse> Send(HttpClient& http, HttpRequest request);
  absl::Status Authenticate(HttpClient& http, const std::string& challenge);
  absl::StatusOr<HttpResponse> DoWithHeader(HttpClient& http, HttpRequest request);
  absl::Status StatusFor(const HttpResponse& response, absl::string_view what) const;

  const Options options_;
  absl::Mutex mu_;
  bool pinged_ ABSL_GUARDED_BY(mu_) = false;
  std::string base_url_ ABSL_GUARDED_BY(mu_);     // "https://host"
  std::string auth_header_ ABSL_GUARDED_BY(mu_);  // "Authorization: ..." or empty
  absl::Mutex auth_mu_;  // one token fetch at a time
};

// Parses a WWW-Authenticate header: scheme ("bearer"/"basic", lower-cased) and its
// parameters (realm, service, scope, error, ...). Exposed for tests.
struct Challenge {
  std::string scheme;
  std::map<std::string, std::string> params;
};
Challenge ParseChallenge(const std::string& header);

}  // namespace zlayer::images
