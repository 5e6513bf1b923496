// zlayer.agent.v1.RuntimeService over the callback API. Each handler converts the
// request, runs the backend call on the work queue and converts the answer back;
// no gRPC thread ever blocks and none is held per open stream.
#pragma once

#include "agentd/grpc/service_context.h"
#include "zlayer/agent/v1/runtime.grpc.pb.h"

namespace zlayer::agentd {

namespace pb = ::zlayer::agent::v1;

class RuntimeServiceImpl final : public pb::RuntimeService::CallbackService {
 public:
  explicit RuntimeServiceImpl(ServiceContext ctx) : ctx_(std::move(ctx)) {}

  using Ctx = grpc::CallbackServerContext;
  using Unary = grpc::ServerUnaryReactor;

  // Images
  grpc::ServerWriteReactor<pb::PullImageEvent>* PullImage(Ctx*, const pb::PullImageRequest*) override;
  grpc::ServerReadReactor<pb::ImportImageRequest>* ImportImage(Ctx*,
                                                               pb::ImportImageResponse*) override;
  Unary* ListImages(Ctx*, const pb::ListImagesRequest*, pb::ListImagesResponse*) override;
  Unary* RemoveImage(Ctx*, const pb::RemoveImageRequest*, pb::RemoveImageResponse*) override;
  Unary* PruneImages(Ctx*, const pb::PruneImagesRequest*, pb::PruneImagesResponse*) override;
  Unary* TagImage(Ctx*, const pb::TagImageRequest*, pb::TagImageResponse*) override;

  // Lifecycle
  Unary* CreateContainer(Ctx*, const pb::CreateContainerRequest*,
                         pb::CreateContainerResponse*) override;
  Unary* StartContainer(Ctx*, const pb::StartContainerRequest*,
                        pb::StartContainerResponse*) override;
  Unary* StopContainer(Ctx*, const pb::StopContainerRequest*, pb::StopContainerResponse*) override;
  Unary* KillContainer(Ctx*, const pb::KillContainerRequest*, pb::KillContainerResponse*) override;
  Unary* RemoveContainer(Ctx*, const pb::RemoveContainerRequest*,
                         pb::RemoveContainerResponse*) override;

  // Queries
  Unary* GetContainerState(Ctx*, const pb::GetContainerStateRequest*,
                           pb::GetContainerStateResponse*) override;
  Unary* ListContainers(Ctx*, const pb::ListContainersRequest*,
                        pb::ListContainersResponse*) override;
  Unary* InspectContainer(Ctx*, const pb::InspectContainerRequest*, pb::ContainerInfo*) override;
  Unary* GetContainerPid(Ctx*, const pb::GetContainerPidRequest*,
                         pb::GetContainerPidResponse*) override;
  Unary* GetContainerIp(Ctx*, const pb::GetContainerIpRequest*,
                        pb::GetContainerIpResponse*) override;
  Unary* GetContainerPortOverride(Ctx*, const pb::GetContainerPortOverrideRequest*,
                                  pb::GetContainerPortOverrideResponse*) override;

  // Output and processes
  grpc::ServerWriteReactor<pb::LogEntry>* ContainerLogs(Ctx*,
                                                        const pb::ContainerLogsRequest*) override;
  Unary* Exec(Ctx*, const pb::ExecRequest*, pb::ExecResponse*) override;
  grpc::ServerWriteReactor<pb::ExecEvent>* ExecStream(Ctx*, const pb::ExecRequest*) override;
  grpc::ServerWriteReactor<pb::WaitEvent>* Wait(Ctx*, const pb::WaitRequest*) override;
  grpc::ServerWriteReactor<pb::Event>* Events(Ctx*, const pb::EventsRequest*) override;

  // Stats
  Unary* GetStats(Ctx*, const pb::GetStatsRequest*, pb::ContainerStats*) override;
  grpc::ServerWriteReactor<pb::ContainerStats>* StreamStats(Ctx*,
                                                            const pb::StreamStatsRequest*) override;
  Unary* ListStats(Ctx*, const pb::ListStatsRequest*, pb::ListStatsResponse*) override;

  Unary* SyncVolumes(Ctx*, const pb::SyncVolumesRequest*, pb::SyncVolumesResponse*) override;
  Unary* GetAgentInfo(Ctx*, const pb::GetAgentInfoRequest*, pb::GetAgentInfoResponse*) override;

 private:
  template <typename Fn>
  Unary* RunOnQueue(Ctx* ctx, const char* method, Fn&& fn);

  ServiceContext ctx_;
};

}  // namespace zlayer::agentd
