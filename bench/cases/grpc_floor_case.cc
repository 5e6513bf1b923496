// The gRPC floor: a no-op unary RPC (GetAgentInfo, answered inline from memory)
// on the agent's socket, against a bare gRPC C++ callback server in another
// process answering the same RPC with a constant on a unix socket. The
// difference is what the agent's API layer adds per call. containerd's own
// no-op, Version, on its socket runs alongside: its API's floor.
#include <signal.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/cases/cases.h"
#include "containerd/containerd_version.grpc.pb.h"

namespace zlayer::bench {
namespace {

class FloorService final : public pb::RuntimeService::CallbackService {
  grpc::ServerUnaryReactor* GetAgentInfo(grpc::CallbackServerContext* ctx,
                                         const pb::GetAgentInfoRequest*,
                                         pb::GetAgentInfoResponse* response) override {
    response->set_version("floor");
    response->set_backend("none");
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

absl::Status Call(Stub& stub) {
  pb::GetAgentInfoRequest req;
  pb::GetAgentInfoResponse resp;
  grpc::ClientContext ctx;
  return FromGrpc(stub.GetAgentInfo(&ctx, req, &resp), "GetAgentInfo");
}

absl::Status ContainerdVersion(::containerd::services::version::v1::Version::Stub& stub) {
  google::protobuf::Empty req;
  ::containerd::services::version::v1::VersionResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (auto s = FromGrpc(stub.Version(&ctx, req, &resp), "containerd Version"); !s.ok()) return s;
  if (resp.version().empty()) return absl::InternalError("containerd Version: empty version");
  return absl::OkStatus();
}

}  // namespace

int RunFloorServer(const std::string& socket_path) {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  ::pthread_sigmask(SIG_BLOCK, &mask, nullptr);  // before gRPC starts its threads
  FloorService service;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat("unix:", socket_path), grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  if (!server) return 1;
  int sig = 0;
  ::sigwait(&mask, &sig);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}

absl::Status GrpcFloorCase(BenchEnv& env, const CaseOptions& o, Report& report) {
  const std::string socket = absl::StrCat(env.agent_socket(), ".floor");
  base::SpawnOptions spawn;
  spawn.argv = {o.self_exe, "--floor-server", socket};
  spawn.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  auto server = base::ChildProcess::Spawn(spawn);
  if (!server.ok()) return server.status();
  if (auto s = WaitForAgent(socket, absl::Seconds(20)); !s.ok()) return s;

  auto agent = pb::RuntimeService::NewStub(NewChannel(env.agent_socket(), 2));
  auto floor = pb::RuntimeService::NewStub(NewChannel(socket, 3));
  std::vector<Variant> v = {
      {"agent GetAgentInfo", nullptr, [&] { return Call(*agent); }, nullptr},
      {"bare gRPC server", nullptr, [&] { return Call(*floor); }, nullptr},
  };
  std::unique_ptr<::containerd::services::version::v1::Version::Stub> containerd;
  if (env.has_containerd()) {
    containerd = ::containerd::services::version::v1::Version::NewStub(
        NewChannel(env.containerd_socket(), 4));
    v.push_back({"containerd Version", nullptr, [&] { return ContainerdVersion(*containerd); },
                 nullptr});
  }
  report.AddSamples("grpc", Alternate(v, 200, o.floor_calls), "us", 1000.0);
  if (Row* r = report.Find("grpc", "agent GetAgentInfo")) {
    r->compare.push_back({"bare gRPC server"});
    if (containerd) r->compare.push_back({"containerd Version"});
  }
  if (Row* r = report.Find("grpc", "containerd Version")) {
    r->note = "containerd's no-op unary RPC on its own socket (Go gRPC server)";
  }
  (void)server->Signal(SIGTERM);
  (void)server->Wait(absl::Now() + absl::Seconds(5));
  ::unlink(socket.c_str());
  return absl::OkStatus();
}

}  // namespace zlayer::bench
