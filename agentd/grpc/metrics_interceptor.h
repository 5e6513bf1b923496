// Counts every RPC the server handles (method, type, status code, time to status)
// into metrics::RpcMetrics, from one gRPC server interceptor rather than in each
// handler, so that health, reflection and streams are counted alike.
#pragma once

#include <grpcpp/support/server_interceptor.h>

#include <memory>

#include "metrics/agent_metrics.h"

namespace zlayer::agentd {

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MetricsInterceptorFactory(
    metrics::RpcMetrics* rpcs);

}  // namespace zlayer::agentd
