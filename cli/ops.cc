#include "cli/ops.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cli/format.h"
#include "cli/names.h"
#include "deploy/values.h"
#include "proto/convert/convert.h"

namespace zlayer::cli {
namespace {

// Create may pull the image first; stop waits for the grace period.
constexpr absl::Duration kCreateTimeout = absl::Minutes(30);
constexpr absl::Duration kStopSlack = absl::Seconds(30);

}  // namespace

absl::StatusOr<std::vector<pb::ContainerId>> ParseNames(const std::vector<std::string>& names) {
  std::vector<pb::ContainerId> out;
  for (const auto& name : names) {
    auto id = ParseContainerName(name);
    if (!id.ok()) return id.status();
    out.push_back(*id);
  }
  return out;
}

absl::Status CreateContainer(Client& client, const pb::CreateContainerRequest& request) {
  auto ctx = client.Call(kCreateTimeout);
  pb::CreateContainerResponse response;
  return client.Error(client.stub().CreateContainer(ctx.get(), request, &response));
}

absl::Status StartContainer(Client& client, const pb::ContainerId& id) {
  auto ctx = client.Call(absl::Minutes(5));
  pb::StartContainerRequest request;
  *request.mutable_id() = id;
  pb::StartContainerResponse response;
  return client.Error(client.stub().StartContainer(ctx.get(), request, &response));
}

absl::Status StopContainer(Client& client, const pb::ContainerId& id,
                           std::optional<absl::Duration> timeout) {
  pb::StopContainerRequest request;
  *request.mutable_id() = id;
  // Without a timeout of our own the agent may wait for the spec's grace period,
  // which can be long: allow it.
  absl::Duration deadline = absl::Hours(1);
  if (timeout) {
    *request.mutable_timeout() = proto::ToProto(*timeout);
    deadline = *timeout + kStopSlack;
  }
  auto ctx = client.Call(deadline);
  pb::StopContainerResponse response;
  return client.Error(client.stub().StopContainer(ctx.get(), request, &response));
}

absl::Status KillContainer(Client& client, const pb::ContainerId& id, const std::string& signal) {
  auto ctx = client.Call();
  pb::KillContainerRequest request;
  *request.mutable_id() = id;
  request.set_signal(signal);
  pb::KillContainerResponse response;
  return client.Error(client.stub().KillContainer(ctx.get(), request, &response));
}

absl::Status RemoveContainer(Client& client, const pb::ContainerId& id, bool force) {
  auto ctx = client.Call(absl::Minutes(2));
  pb::RemoveContainerRequest request;
  *request.mutable_id() = id;
  request.set_force(force);
  pb::RemoveContainerResponse response;
  return client.Error(client.stub().RemoveContainer(ctx.get(), request, &response));
}

absl::StatusOr<pb::ContainerInfo> InspectContainer(Client& client, const pb::ContainerId& id) {
  auto ctx = client.Call();
  pb::InspectContainerRequest request;
  *request.mutable_id() = id;
  pb::ContainerInfo info;
  if (auto s = client.Error(client.stub().InspectContainer(ctx.get(), request, &info)); !s.ok()) {
    return s;
  }
  return info;
}

absl::StatusOr<std::vector<pb::ContainerSummary>> ListContainers(
    Client& client, const pb::ListContainersRequest& request) {
  auto ctx = client.Call();
  pb::ListContainersResponse response;
  if (auto s = client.Error(client.stub().ListContainers(ctx.get(), request, &response)); !s.ok()) {
    return s;
  }
  return std::vector<pb::ContainerSummary>(response.containers().begin(),
                                           response.containers().end());
}

absl::StatusOr<pb::WaitOutcome> WaitForOutcome(Client& client, const pb::ContainerId& id) {
  auto ctx = client.Stream();
  pb::WaitRequest request;
  *request.mutable_id() = id;
  auto reader = client.stub().Wait(ctx.get(), request);
  pb::WaitEvent event;
  std::optional<pb::WaitOutcome> outcome;
  while (reader->Read(&event)) {
    if (event.has_outcome()) outcome = event.outcome();
  }
  const grpc::Status status = reader->Finish();
  if (outcome) return *outcome;
  if (!status.ok()) return client.Error(status);
  return absl::InternalError(absl::StrCat("wait ", ContainerName(id),
                                          ": the agent ended the stream without an outcome"));
}

absl::Status StopAndRemove(Client& client, const pb::ContainerId& id, pb::ContainerPhase phase,
                           std::optional<absl::Duration> timeout) {
  const bool may_run = phase == pb::CONTAINER_PHASE_RUNNING ||
                       phase == pb::CONTAINER_PHASE_STOPPING;
  if (may_run) {
    absl::Status s = StopContainer(client, id, timeout);
    // Gone or already stopped in the meantime: removing is all that is left.
    if (!s.ok() && !absl::IsFailedPrecondition(s) && !absl::IsNotFound(s)) return s;
  }
  absl::Status s = RemoveContainer(client, id, /*force=*/true);
  return absl::IsNotFound(s) ? absl::OkStatus() : s;
}

absl::StatusOr<std::optional<absl::Duration>> StopTimeout(const ParsedArgs& args) {
  auto text = args.Value("time");
  if (!text) return std::optional<absl::Duration>();
  int64_t seconds = 0;
  if (absl::SimpleAtoi(*text, &seconds) && seconds >= 0) {
    return std::optional<absl::Duration>(absl::Seconds(seconds));
  }
  auto d = deploy::ParseSpecDuration(*text);
  if (!d.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("-t/--time: expected seconds (10) or a duration (1m30s), got \"", *text, "\""));
  }
  return std::optional<absl::Duration>(*d);
}

int ForEachName(const std::vector<std::string>& names,
                const std::function<absl::Status(const pb::ContainerId&)>& fn) {
  int code = 0;
  for (const auto& name : names) {
    auto id = ParseContainerName(name);
    absl::Status s = id.ok() ? fn(*id) : id.status();
    if (s.ok()) {
      Out(absl::StrCat(name, "\n"));
    } else {
      PrintError(s);
      code = 1;
    }
  }
  return code;
}

}  // namespace zlayer::cli
