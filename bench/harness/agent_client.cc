#include "bench/harness/agent_client.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace zlayer::bench {

std::unique_ptr<grpc::ClientContext> Deadline(absl::Duration timeout) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return ctx;
}

absl::Status FromGrpc(const grpc::Status& s, const std::string& what) {
  if (s.ok()) return absl::OkStatus();
  // Both enums follow google.rpc.Code.
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(what, ": ", s.error_message()));
}

std::shared_ptr<grpc::Channel> NewChannel(const std::string& socket_path, int tag) {
  grpc::ChannelArguments args;
  // Channels with equal arguments share one subchannel (one connection); a private
  // pool and a distinguishing argument give each its own.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("zlayer.bench.channel", tag);
  return grpc::CreateCustomChannel(absl::StrCat("unix:", socket_path),
                                   grpc::InsecureChannelCredentials(), args);
}

absl::Status WaitForAgent(const std::string& socket_path, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status last = absl::UnavailableError("not tried");
  while (absl::Now() < deadline) {
    auto stub = pb::RuntimeService::NewStub(NewChannel(socket_path));
    pb::GetAgentInfoRequest req;
    pb::GetAgentInfoResponse resp;
    last = FromGrpc(stub->GetAgentInfo(Deadline(absl::Seconds(2)).get(), req, &resp),
                    "GetAgentInfo");
    if (last.ok()) return last;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return last;
}

pb::ContainerId Id(const std::string& service, uint32_t replica) {
  pb::ContainerId id;
  id.set_service(service);
  id.set_replica(replica);
  return id;
}

pb::ServiceSpec Spec(const std::string& image, const std::vector<std::string>& argv) {
  pb::ServiceSpec spec;
  spec.mutable_image()->set_name(image);
  for (const auto& a : argv) spec.mutable_command()->add_entrypoint(a);
  return spec;
}

absl::Status ImportLayout(Stub& stub, const std::string& reference, const std::string& archive) {
  constexpr size_t kChunk = 256 << 10;
  auto ctx = Deadline(absl::Seconds(120));
  pb::ImportImageResponse response;
  auto writer = stub.ImportImage(ctx.get(), &response);
  for (size_t offset = 0; offset < archive.size(); offset += kChunk) {
    pb::ImportImageRequest chunk;
    if (offset == 0) chunk.set_reference(reference);
    chunk.set_chunk(archive.substr(offset, kChunk));
    if (!writer->Write(chunk)) break;  // Finish says why
  }
  writer->WritesDone();
  return FromGrpc(writer->Finish(), "ImportImage " + reference);
}

absl::Status Create(Stub& stub, const pb::ContainerId& id, const pb::ServiceSpec& spec) {
  pb::CreateContainerRequest req;
  *req.mutable_id() = id;
  *req.mutable_spec() = spec;
  req.set_deployment("bench");
  pb::CreateContainerResponse resp;
  return FromGrpc(stub.CreateContainer(Deadline(absl::Seconds(120)).get(), req, &resp),
                  "CreateContainer");
}

absl::Status Start(Stub& stub, const pb::ContainerId& id) {
  pb::StartContainerRequest req;
  *req.mutable_id() = id;
  pb::StartContainerResponse resp;
  return FromGrpc(stub.StartContainer(Deadline(absl::Seconds(60)).get(), req, &resp),
                  "StartContainer");
}

absl::Status Remove(Stub& stub, const pb::ContainerId& id, bool force) {
  pb::RemoveContainerRequest req;
  *req.mutable_id() = id;
  req.set_force(force);
  pb::RemoveContainerResponse resp;
  return FromGrpc(stub.RemoveContainer(Deadline(absl::Seconds(60)).get(), req, &resp),
                  "RemoveContainer");
}

absl::StatusOr<pb::WaitOutcome> WaitOutcome(Stub& stub, const pb::ContainerId& id,
                                            absl::Duration timeout) {
  pb::WaitRequest req;
  *req.mutable_id() = id;
  auto ctx = Deadline(timeout);
  auto reader = stub.Wait(ctx.get(), req);
  pb::WaitEvent ev;
  std::optional<pb::WaitOutcome> outcome;
  while (reader->Read(&ev)) {
    if (ev.has_outcome()) outcome = ev.outcome();
  }
  if (auto s = FromGrpc(reader->Finish(), "Wait"); !s.ok()) return s;
  if (!outcome) return absl::InternalError("Wait ended without an outcome");
  return *outcome;
}

absl::StatusOr<pb::ExecResponse> Exec(Stub& stub, const pb::ContainerId& id,
                                      const std::vector<std::string>& argv) {
  pb::ExecRequest req;
  *req.mutable_id() = id;
  for (const auto& a : argv) req.add_command(a);
  pb::ExecResponse resp;
  if (auto s = FromGrpc(stub.Exec(Deadline(absl::Seconds(60)).get(), req, &resp), "Exec");
      !s.ok()) {
    return s;
  }
  return resp;
}

absl::StatusOr<int> ExecStream(Stub& stub, const pb::ContainerId& id,
                               const std::vector<std::string>& argv) {
  pb::ExecRequest req;
  *req.mutable_id() = id;
  for (const auto& a : argv) req.add_command(a);
  auto ctx = Deadline(absl::Seconds(60));
  auto reader = stub.ExecStream(ctx.get(), req);
  pb::ExecEvent ev;
  std::optional<int> code;
  while (reader->Read(&ev)) {
    if (ev.event_case() == pb::ExecEvent::kExitCode) code = ev.exit_code();
  }
  if (auto s = FromGrpc(reader->Finish(), "ExecStream"); !s.ok()) return s;
  if (!code) return absl::InternalError("ExecStream ended without an exit code");
  return *code;
}

absl::Status RemoveAll(Stub& stub) {
  pb::ListContainersRequest req;
  pb::ListContainersResponse resp;
  if (auto s = FromGrpc(stub.ListContainers(Deadline(absl::Seconds(30)).get(), req, &resp),
                        "ListContainers");
      !s.ok()) {
    return s;
  }
  absl::Status first;
  for (const auto& c : resp.containers()) {
    if (auto s = Remove(stub, c.id(), true); !s.ok() && first.ok()) first = s;
  }
  return first;
}

}  // namespace zlayer::bench
