// /metrics: the agent's Prometheus endpoint (metrics.address). Assembles one
// scrape from the process, the RPC and pull counters, the work queue, open streams,
// the event journal and every container's cgroup figures.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "agentd/grpc/service_context.h"
#include "metrics/agent_metrics.h"
#include "metrics/http_endpoint.h"

namespace zlayer::agentd {

struct MetricsSources {
  const ServiceContext* context = nullptr;
  const metrics::RpcMetrics* rpcs = nullptr;
  const metrics::PullMetrics* pulls = nullptr;
  // The journal's file (its WAL beside it), for its size; empty in memory.
  std::string journal_path;
};

// The whole scrape, in the text exposition format.
std::string RenderMetrics(const MetricsSources& sources);

// Serves GET /metrics on `address`; `sources` must outlive the endpoint.
absl::StatusOr<std::unique_ptr<metrics::HttpEndpoint>> StartMetricsEndpoint(
    const std::string& address, const MetricsSources* sources);

}  // namespace zlayer::agentd
