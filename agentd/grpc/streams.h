// Server-streaming and client-streaming handlers of RuntimeService.
#pragma once

#include <grpcpp/support/server_callback.h>

#include "agentd/grpc/service_context.h"
#include "zlayer/agent/v1/runtime.pb.h"

namespace zlayer::agentd {

namespace pb = ::zlayer::agent::v1;

grpc::ServerWriteReactor<pb::WaitEvent>* StartWaitStream(const ServiceContext& ctx,
                                                         const pb::WaitRequest& request);
grpc::ServerWriteReactor<pb::LogEntry>* StartLogStream(const ServiceContext& ctx,
                                                       const pb::ContainerLogsRequest& request);
grpc::ServerWriteReactor<pb::ExecEvent>* StartExecStream(const ServiceContext& ctx,
                                                         const pb::ExecRequest& request);
grpc::ServerWriteReactor<pb::Event>* StartEventsStream(const ServiceContext& ctx,
                                                       const pb::EventsRequest& request);
grpc::ServerWriteReactor<pb::ContainerStats>* StartStatsStream(
    const ServiceContext& ctx, const pb::StreamStatsRequest& request);
grpc::ServerWriteReactor<pb::PullImageEvent>* StartPullStream(const ServiceContext& ctx,
                                                              const pb::PullImageRequest& request);
grpc::ServerReadReactor<pb::ImportImageRequest>* StartImportReader(
    const ServiceContext& ctx, pb::ImportImageResponse* response);

}  // namespace zlayer::agentd
