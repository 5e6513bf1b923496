// The daemon as a process: socket, health, shutdown behaviour, flags.
#include <catch2/catch.hpp>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <grpcpp/generic/generic_stub.h>
#include <sys/stat.h>

#include "absl/synchronization/notification.h"

#include "base/process.h"
#include "support/agent_process.h"
#include "support/test_support.h"

using namespace zlayer::testing;
namespace pb = zlayer::agent::v1;

TEST_CASE("the socket is created with mode 0660 and removed at shutdown", "[integration]") {
  auto agent = std::make_unique<AgentProcess>();
  const std::string path = agent->socket_path();
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0660);
  CHECK(agent->Stop() == 0);
  CHECK(::access(path.c_str(), F_OK) != 0);
}

TEST_CASE("health reports SERVING for the agent and its service", "[integration]") {
  AgentProcess agent;
  // grpc.health.v1.Health/Check with a hand-encoded request: field 1 = service name.
  grpc::GenericStub generic(agent.channel());
  for (std::string service : {std::string(), std::string("zlayer.agent.v1.RuntimeService")}) {
    std::string wire;
    if (!service.empty()) {
      wire.push_back(0x0a);
      wire.push_back(static_cast<char>(service.size()));
      wire += service;
    }
    grpc::Slice slice(wire);
    grpc::ByteBuffer request(&slice, 1), response;
    auto ctx = Ctx();
    grpc::Status status;
    absl::Notification done;
    generic.UnaryCall(ctx.get(), "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                      &response, [&](grpc::Status s) {
                        status = s;
                        done.Notify();
                      });
    REQUIRE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
    REQUIRE(status.ok());
    std::vector<grpc::Slice> slices;
    REQUIRE(response.Dump(&slices).ok());
    std::string body;
    for (auto& s : slices) body += std::string(reinterpret_cast<const char*>(s.begin()), s.size());
    // HealthCheckResponse{status: SERVING (1)} encodes as 08 01.
    CHECK(body == std::string("\x08\x01", 2));
  }
}

TEST_CASE("SIGTERM ends open streams with UNAVAILABLE and exits 0", "[integration]") {
  AgentProcess agent;
  auto stub = agent.Stub();
  pb::CreateContainerRequest create;
  create.mutable_id()->set_service("web");
  create.mutable_id()->set_replica(1);
  create.mutable_spec()->mutable_image()->set_name("x");
  pb::CreateContainerResponse cresp;
  REQUIRE(stub->CreateContainer(Ctx().get(), create, &cresp).ok());
  pb::WaitRequest req;
  *req.mutable_id() = create.id();
  auto ctx = Ctx(absl::Seconds(20));
  auto reader = stub->Wait(ctx.get(), req);
  pb::WaitEvent ev;
  REQUIRE(reader->Read(&ev));
  ::kill(agent.pid(), SIGTERM);
  while (reader->Read(&ev)) {
  }
  auto status = reader->Finish();
  CHECK(status.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(status.error_message().find("shutting down") != std::string::npos);
  CHECK(agent.Stop() == 0);
}

TEST_CASE("a second agent on the same socket refuses to start", "[integration]") {
  AgentProcess first;
  zlayer::base::RunOptions run;
  run.argv = {ZLAYER_AGENTD_BIN, "--backend", "mock", "--socket", first.socket_path()};
  run.timeout = absl::Seconds(20);
  auto r = zlayer::base::RunCommand(run);
  REQUIRE(r.ok());
  CHECK(r->status.code == 1);
  CHECK(r->err.find("another process is serving") != std::string::npos);
}

TEST_CASE("zlayer-agentd --help and bad flags", "[integration]") {
  zlayer::base::RunOptions run;
  run.argv = {ZLAYER_AGENTD_BIN, "--help"};
  auto r = zlayer::base::RunCommand(run);
  REQUIRE(r.ok());
  CHECK(r->status.code == 0);
  CHECK(r->out.find("--socket") != std::string::npos);
  run.argv = {ZLAYER_AGENTD_BIN, "--no-such-flag"};
  r = zlayer::base::RunCommand(run);
  REQUIRE(r.ok());
  CHECK(r->status.code == 2);
  CHECK(r->err.find("unknown flag --no-such-flag") != std::string::npos);
}

TEST_CASE("the agent serves TCP when asked", "[integration]") {
  AgentOptions options;
  options.extra_args = {"--tcp", "127.0.0.1:0"};
  AgentProcess agent(options);
  // Port 0 picks a free port; the log names it.
  const std::string log = agent.Log();
  const auto pos = log.find("(port ");
  REQUIRE(pos != std::string::npos);
  const int port = std::stoi(log.substr(pos + 6));
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                     grpc::InsecureChannelCredentials());
  auto stub = pb::RuntimeService::NewStub(channel);
  pb::GetAgentInfoRequest req;
  pb::GetAgentInfoResponse resp;
  CHECK(stub->GetAgentInfo(Ctx().get(), req, &resp).ok());
}
