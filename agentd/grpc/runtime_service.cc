#include "agentd/grpc/runtime_service.h"

#include "absl/strings/str_cat.h"
#include "agentd/grpc/status_convert.h"
#include "agentd/grpc/streams.h"
#include "base/logging.h"
#include "core/errors.h"
#include "proto/convert/convert.h"

namespace zlayer::agentd {
namespace {

using core::ContainerId;

// Errors are logged once, here at the edge: expected ones (unknown ids, bad input)
// at debug, the ones an operator should look at as warnings.
void LogResult(const char* method, const absl::Status& status) {
  if (status.ok()) return;
  static auto log = base::Logger("api");
  switch (status.code()) {
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kResourceExhausted:
      log->warn("rpc failed method={} code={} error={}", method,
                absl::StatusCodeToString(status.code()), status.message());
      break;
    default:
      log->debug("rpc failed method={} code={} error={}", method,
                 absl::StatusCodeToString(status.code()), status.message());
  }
}

}  // namespace

template <typename Fn>
RuntimeServiceImpl::Unary* RuntimeServiceImpl::RunOnQueue(Ctx* ctx, const char* method, Fn&& fn) {
  Unary* reactor = ctx->DefaultReactor();
  // The request and response live until Finish, so the task may use them.
  const bool posted = ctx_.queue->Post([reactor, method, fn = std::forward<Fn>(fn)]() mutable {
    const absl::Status status = fn();
    LogResult(method, status);
    reactor->Finish(ToGrpcStatus(status));
  });
  if (!posted) {
    reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                 absl::StrCat(method, ": the agent's work queue is full or "
                                                      "shutting down; retry shortly")));
  }
  return reactor;
}

// Images -------------------------------------------------------------------------

grpc::ServerWriteReactor<pb::PullImageEvent>* RuntimeServiceImpl::PullImage(
    Ctx*, const pb::PullImageRequest* request) {
  return StartPullStream(ctx_, *request);
}

grpc::ServerReadReactor<pb::ImportImageRequest>* RuntimeServiceImpl::ImportImage(
    Ctx*, pb::ImportImageResponse* response) {
  return StartImportReader(ctx_, response);
}

RuntimeServiceImpl::Unary* RuntimeServiceImpl::ListImages(Ctx* ctx, const pb::ListImagesRequest*,
                                                          pb::ListImagesResponse* response) {
  return RunOnQueue(ctx, "ListImages", [this, response]() -> absl::Status {
    auto images = ctx_.images->ListImages();
    if (!images.ok()) return images.status();
    for (const auto& image : *images) *response->add_images() = proto::ToProto(image);
    return absl::OkStatus();
  });
}

RuntimeServiceImpl::Unary* RuntimeServiceImpl::RemoveImage(Ctx* ctx,
                                                           const pb::RemoveImageRequest* request,
                                                           pb::RemoveImageResponse*) {
  return RunOnQueue(ctx, "RemoveImage", [this, request]() -> absl::Status {
    if (request->image().empty()) return core::InvalidSpec("remove image: image must be set");
    return ctx_.images->RemoveImage(request->image(), request->force());
  });
}

RuntimeServiceImpl::Unary* RuntimeServiceImpl::PruneImages(Ctx* ctx, const pb::PruneImagesRequest*,
                                                           pb::PruneImagesResponse* response) {
  return RunOnQueue(ctx, "PruneImages", [this, response]() -> absl::Status {
    auto result = ctx_.images->PruneImages();
    if (!result.ok()) return result.status();
    for (const auto& d : result->deleted) response->add_deleted(d);
    response->set_space_reclaimed(result->space_reclaimed);
    return absl::OkStatus();
  });
}

RuntimeServiceImpl::Unary* RuntimeServiceImpl::TagImage(Ctx* ctx, const pb::TagImageRequest* request,
                                                        pb::TagImageResponse*) {
  return RunOnQueue(ctx, "TagImage", [this, request]() -> absl::Status {
    if (request->source().empty() || request->target().empty()) {
      return core::InvalidSpec("tag image: source and target must both be set");
    }
    return ctx_.images->TagImage(request->source(), request->target());
  });
}

// Lifecycle ----------------------------------------------------------------------

RuntimeServiceImpl::Unary* RuntimeServiceImpl::CreateContainer(
    Ctx* ctx, const pb::CreateContainerRequest* request, pb::CreateContainerResponse*) {
  return RunOnQueue(ctx, "CreateContainer", [this, request]() -> absl::Status {
    auto id = proto::FromProto(request->id());
    if (!id.ok()) return id.status();
    auto spec = proto::FromProto(request->spec());
    if (!spec.ok()) return spec.status();
    return ctx_.containers->CreateContainer(*id, *spec, request->deployment());
  });
}

RuntimeServiceImpl::Unary* RuntimeServiceImpl::StartContainer(
    Ctx* ctx, const pb::StartContainerRequest* request, pb::StartContainerResponse*) {
  return RunOnQueue(ctx, "StartContainer", [this, request]() -> absl::Status {
    auto id = proto::FromProto(request->id());
    if (!id.ok()) return id.status();
    return ctx_.containers->StartContainer(*id);
  });
}

RuntimeServiceImpl::Unary* RuntimeServiceImpl::StopContainer(
    Ctx* ctx, const pb::StopContainerRequest* request, pb::StopContainerResponse*) {
  return RunOnQueue(ctx, "StopContainer", [this, request]() -> absl::Status {
    auto id = proto::FromProto(request->id());
    if (!id.ok()) return id.status();
    std::optional<absl::Duration> timeout;
    if (request->has_timeout()) {
      timeout = proto::FromProto(request->timeout());
      if (*timeout < absl::ZeroDuration()) {
        return core::InvalidSpec("stop: timeout must not be negative");
      }
    }
    return ctx_.containers->StopContainer(*id, timeout);
  });
}

RuntimeServiceImpl::Unary* RuntimeServiceImpl::KillContainer(
    Ctx* ctx, const pb::KillContainerRequest* request, pb::KillContainerResponse*) {
  return RunOnQueue(ctx, "KillContainer", [this, request]() -> absl::Status {
    auto id = proto::FromProto(request->id());
    if (!id.ok()) return id.status();
    std::optional<std::string> signal;
    if (!request->signal().empty()) signal = request->signal();
    return ctx_.containers->KillContainer(*id, signal);
  });
}

RuntimeServiceImpl::Unary* RuntimeServiceImpl::RemoveContainer(
    Ctx* ctx, const pb::RemoveContainerRequest* request, pb::RemoveContainerResponse*) {
  return RunOnQueue(ctx, "RemoveContainer", [this, request]() -> absl::Status {
    auto id = proto::FromProto(request->id());
    if (!id.ok()) return id.status();
    return ctx_.containers->RemoveContainer(*id, request->force());
  });
}

// Queries ------------------------------------------------------------------------

RuntimeServiceImpl::Unary* RuntimeServiceImpl::GetContainerState(
    Ctx* ctx, const pb::GetContainerStateRequest* request,
    pb::GetContainerStateResponse* response) {
  return RunOnQueue(ctx, "GetContainerState", [this, request, response]() -> absl::Status {
    auto id = proto::FromProto(request->id());
    if (!id.ok()) return id.status();
    auto state = ctx_.containers->GetContainerState(*id);
    if (!state.ok()) return state.status();
    *response->mutable_state() = proto::ToProto(*state);
    return absl::OkStatus();
  });
}

RuntimeServiceImpl::Unary* RuntimeServiceImpl::ListContainers(
    Ctx* ctx, const pb::ListContainersRequest* request, pb::ListContainersResponse* response) {
  return RunOnQueue(ctx, "ListContainers", [this, request, response]() -> absl::Status {
    auto filter = proto::FromProto(*request);
    if (!filter.ok()) return filter.status();
    auto records = ctx_.containers->ListContainers(*filter);
    if (!records.ok()) return records.status();
    for (const auto& r : *records) {
      pb::ContainerSummary* summary = response->add_containers();
      *summary = proto::ToSummary(r);
      // Published ports and the address, as `ps` shows them; a container removed
      // meanwhile just has none.
      if (auto details = ctx_.containers->InspectDetailed(r.id); details.ok()) {
        for (const auto& port : details->ports) {
          if (port.host_port == 0) continue;
          auto* out = summary->add_ports();
          out->set_container_port(port.container_port);
          out->set_host_port(port.host_port);
          out->set_protocol(port.protocol);
          out->set_host_ip(port.host_ip);
        }
        if (details->ipv4) summary->set_ipv4(*details->ipv4);
      }
    }
    return absl::OkStatus();
  });
}

RuntimeServiceImpl::Unary* RuntimeServiceImpl::InspectContainer(
    Ctx* ctx, const pb::InspectContainerRequest* request, pb::ContainerInfo* response) {
  return RunOnQueue(ctx, "InspectContainer", [this, request, response]() -> absl::Status {
    auto id = proto::FromProto(request->id());
    if (!id.ok()) return id.status();
    auto record = ctx_.containers->DescribeContainer(*id);
    if (!record.ok()) return record.status();
    *response = proto::ToInfo(*record);
    auto details = ctx_.containers->InspectDetailed(*id);
    if (!details.ok()) return details.status();
    proto::AddDetails(*details, response);
    auto ip = ctx_.containers->GetContainerIp(*id);
    if (!ip.ok()) return ip.status();
    if (*ip) response->set_ip(**ip);
    auto port = ctx_.containers->GetContainerPortOverride(*id);
    if (!port.ok()) return port.status();
    if (*port) response->set_port_override(**port);
    return absl::OkStatus();
  });
}

RuntimeServiceImpl::Unary* RuntimeServiceImpl::GetContainerPid(
    Ctx* ctx, const pb::GetContainerPidRequest* request, pb::GetContainerPidResponse* response) {
  return RunOnQueue(ctx, "GetContainerPid", [this, request, response]() -> absl::Status {
    auto id = proto::FromProto(request->id());
    if (!id.ok()) return id.status();
    auto pid = ctx_.containers->GetContainerPid(*id);
    if (!pid.ok()) return pid.status();
    if (*pid) response->set_pid(**pid);
    return absl::OkStatus();
  });
}

RuntimeServiceImpl::Unary* RuntimeServiceImpl::GetContainerIp(
    Ctx* ctx, const pb::GetContainerIpRequest* request, pb::GetContainerIpResponse* response) {
  return RunOnQueue(ctx, "GetContainerIp", [this, request, response]() -> absl::Status {
    auto id = proto::FromProto(request->id());
    if (!id.ok()) return id.status();
    auto ip = ctx_.containers->GetContainerIp(*id);
    if (!ip.ok()) return ip.status();
    if (*ip) response->set_ip(**ip);
    return absl::OkStatus();
  });
}

RuntimeServiceImpl::Unary* RuntimeServiceImpl::GetContainerPortOverride(
    Ctx* ctx, const pb::GetContainerPortOverrideRequest* request,
    pb::GetContainerPortOverrideResponse* response) {
  return RunOnQueue(ctx, "GetContainerPortOverride", [this, request, response]() -> absl::Status {
    auto id = proto::FromProto(request->id());
    if (!id.ok()) return id.status();
    auto port = ctx_.containers->GetContainerPortOverride(*id);
    if (!port.ok()) return port.status();
    if (*port) response->set_port(**port);
    return absl::OkStatus();
  });
}

// Output and processes -----------------------------------------------------------

grpc::ServerWriteReactor<pb::LogEntry>* RuntimeServiceImpl::ContainerLogs(
    Ctx*, const pb::ContainerLogsRequest* request) {
  return StartLogStream(ctx_, *request);
}

RuntimeServiceImpl::Unary* RuntimeServiceImpl::Exec(Ctx* ctx, const pb::ExecRequest* request,
                                                    pb::ExecResponse* response) {
  return RunOnQueue(ctx, "Exec", [this, request, response]() -> absl::Status {
    auto req = proto::FromProto(*request);
    if (!req.ok()) return req.status();
    auto result = ctx_.containers->Exec(*req);
    if (!result.ok()) return result.status();
    response->set_exit_code(result->exit_code);
    response->set_stdout(std::move(result->stdout_data));
    response->set_stderr(std::move(result->stderr_data));
    response->set_stdout_truncated(result->stdout_truncated);
    response->set_stderr_truncated(result->stderr_truncated);
    return absl::OkStatus();
  });
}

grpc::ServerWriteReactor<pb::ExecEvent>* RuntimeServiceImpl::ExecStream(
    Ctx*, const pb::ExecRequest* request) {
  return StartExecStream(ctx_, *request);
}

grpc::ServerWriteReactor<pb::WaitEvent>* RuntimeServiceImpl::Wait(Ctx*,
                                                                  const pb::WaitRequest* request) {
  return StartWaitStream(ctx_, *request);
}

grpc::ServerWriteReactor<pb::Event>* RuntimeServiceImpl::Events(Ctx*,
                                                                const pb::EventsRequest* request) {
  return StartEventsStream(ctx_, *request);
}

// Stats --------------------------------------------------------------------------

RuntimeServiceImpl::Unary* RuntimeServiceImpl::GetStats(Ctx* ctx, const pb::GetStatsRequest* request,
                                                        pb::ContainerStats* response) {
  return RunOnQueue(ctx, "GetStats", [this, request, response]() -> absl::Status {
    auto id = proto::FromProto(request->id());
    if (!id.ok()) return id.status();
    auto stats = ctx_.containers->GetContainerStats(*id);
    if (!stats.ok()) return stats.status();
    *response = proto::ToProto(*stats);
    return absl::OkStatus();
  });
}

grpc::ServerWriteReactor<pb::ContainerStats>* RuntimeServiceImpl::StreamStats(
    Ctx*, const pb::StreamStatsRequest* request) {
  return StartStatsStream(ctx_, *request);
}

RuntimeServiceImpl::Unary* RuntimeServiceImpl::ListStats(Ctx* ctx, const pb::ListStatsRequest* request,
                                                         pb::ListStatsResponse* response) {
  return RunOnQueue(ctx, "ListStats", [this, request, response]() -> absl::Status {
    core::ContainerFilter filter;
    filter.service = request->service();
    filter.deployment = request->deployment();
    auto stats = ctx_.containers->ListContainerStats(filter);
    if (!stats.ok()) return stats.status();
    for (const auto& s : *stats) *response->add_stats() = proto::ToProto(s);
    return absl::OkStatus();
  });
}

RuntimeServiceImpl::Unary* RuntimeServiceImpl::SyncVolumes(Ctx* ctx,
                                                           const pb::SyncVolumesRequest* request,
                                                           pb::SyncVolumesResponse*) {
  return RunOnQueue(ctx, "SyncVolumes", [this, request]() -> absl::Status {
    auto id = proto::FromProto(request->id());
    if (!id.ok()) return id.status();
    // The contract's default is a no-op, but the container must exist.
    if (auto state = ctx_.containers->GetContainerState(*id); !state.ok()) return state.status();
    return ctx_.containers->SyncContainerVolumes(*id);
  });
}

RuntimeServiceImpl::Unary* RuntimeServiceImpl::GetAgentInfo(Ctx* ctx, const pb::GetAgentInfoRequest*,
                                                            pb::GetAgentInfoResponse* response) {
  // Answered inline: it touches only in-memory state, and it is the API's floor
  // when measuring overhead.
  response->set_version(ctx_.version);
  response->set_backend(ctx_.containers->BackendName());
  response->set_runtime(ctx_.containers->RuntimeDescription());
  response->set_cgroup_mode(ctx_.cgroup_mode);
  response->set_metrics_address(ctx_.metrics_address);
  *response->mutable_started_at() = proto::ToProto(ctx_.started_at);
  auto records = ctx_.containers->ListContainers({});
  if (records.ok()) response->set_containers(static_cast<uint32_t>(records->size()));
  Unary* reactor = ctx->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace zlayer::agentd
