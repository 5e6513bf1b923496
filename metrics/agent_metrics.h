// What the agent counts about itself between scrapes: RPCs by method and code with
// their latency, and image pulls. The names follow go-grpc-prometheus
// (grpc_server_started_total, grpc_server_handled_total, grpc_server_handling_seconds),
// which existing gRPC dashboards already chart. Thread-safe; recording is a short
// critical section per call, never I/O.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "metrics/exposition.h"

namespace zlayer::metrics {

class RpcMetrics {
 public:
  // `full_method` is gRPC's "/package.Service/Method"; `type` one of unary,
  // client_stream, server_stream, bidi_stream.
  void Started(absl::string_view full_method, absl::string_view type);
  // `code` is the canonical name (OK, NOT_FOUND, ...); `seconds` from start to status.
  void Handled(absl::string_view full_method, absl::string_view type, absl::string_view code,
               double seconds);
  void Write(TextWriter& out) const;

 private:
  struct Method {
    std::string service, method, type;
    uint64_t started = 0;
    std::map<std::string, uint64_t> handled;  // by code
    Histogram seconds;
  };
  Method& Find(absl::string_view full_method, absl::string_view type)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, Method, std::less<>> methods_ ABSL_GUARDED_BY(mu_);
};

class PullMetrics {
 public:
  // `downloaded` counts layer bytes fetched from the registry (not those already present).
  void Finished(bool ok, uint64_t downloaded, double seconds);
  void Write(TextWriter& out) const;

 private:
  mutable absl::Mutex mu_;
  uint64_t succeeded_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t failed_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  Histogram seconds_ ABSL_GUARDED_BY(mu_);
};

}  // namespace zlayer::metrics
