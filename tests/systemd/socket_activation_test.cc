// Socket activation with systemd's own tool: `systemd-socket-activate -l PATH`
// binds and listens, waits for the first connection, then execs the agent with
// LISTEN_FDS=1 and LISTEN_PID set. The agent must serve the inherited socket
// (gRPC 1.51 cannot adopt a listening fd: it accepts and hands each connection to
// the server), including connections made before it was ready.
#include <grpcpp/create_channel_posix.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/process.h"
#include "base/unique_fd.h"
#include "sd_test_support.h"
#include "support/agent_process.h"
#include "support/rpc_builders.h"
#include "support/test_support.h"

using namespace zlayer::testing;
namespace pb = zlayer::agent::v1;

namespace {

const char kActivate[] = "/usr/bin/systemd-socket-activate";

// A connected unix stream socket (blocking connect: it completes as soon as the
// kernel queues the connection on the listener, whoever will accept it).
int ConnectUnix(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

struct Activated {
  explicit Activated(const std::string& root, std::vector<std::string> args = {})
      : notify(root + "/notify"), listen_path(root + "/api.sock") {
    zlayer::base::SpawnOptions spawn;
    spawn.argv = {kActivate, "-l", listen_path, "-E", notify.Env(), "--",
                  AgentdBin(), "--backend", "mock",
                  // A socket of its own that it must NOT create under activation.
                  "--socket", root + "/own.sock",
                  "--data-dir", root + "/data", "--run-dir", root + "/run",
                  "--log-level", "debug"};
    for (auto& a : args) spawn.argv.push_back(a);
    spawn.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
    spawn.stdout_fd = output.write_fd();
    spawn.stderr_fd = output.write_fd();
    auto child = zlayer::base::ChildProcess::Spawn(spawn);
    REQUIRE(child.ok());
    process.emplace(std::move(*child));
    output.CloseWriteEnd();
    // systemd-socket-activate reports the socket once it is listening.
    REQUIRE(output.WaitForText("Listening on " + listen_path, absl::Seconds(10)));
  }
  ~Activated() {
    if (process) {
      (void)process->Signal(SIGKILL);
      (void)process->Wait(absl::Now() + absl::Seconds(10));
    }
  }
  int Stop() {
    (void)process->Signal(SIGTERM);
    auto status = process->Wait(absl::Now() + absl::Seconds(15));
    process.reset();
    return status.ok() ? status->code : -1;
  }

  NotifySocket notify;
  std::string listen_path;
  OutputCollector output;
  std::optional<zlayer::base::ChildProcess> process;
};

}  // namespace

TEST_CASE("socket activation: connections made before the agent exists are served",
          "[integration][systemd]") {
  auto dir = MakeTempDir("zt-sda-");
  Activated agent(dir.path());
  INFO(agent.output.Text());

  // Three connections, made while nothing but systemd-socket-activate holds the
  // socket: the first makes it exec the agent; all three wait in the backlog.
  std::vector<int> early;
  for (int i = 0; i < 3; ++i) early.push_back(ConnectUnix(agent.listen_path));
  const absl::Time connected = absl::Now();
  // Each becomes a gRPC channel over that very connection; the calls are sent
  // before the agent has said READY=1.
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int fd : early) {
    channels.push_back(grpc::CreateInsecureChannelFromFd("early", fd));  // takes fd
  }
  std::vector<std::unique_ptr<GenericCalls>> health;
  for (auto& ch : channels) {
    health.push_back(std::make_unique<GenericCalls>(ch, "/grpc.health.v1.Health/Check", "", 1,
                                                    absl::Seconds(30)));
  }

  auto ready = agent.notify.WaitFor("READY", "1", absl::Seconds(30));
  REQUIRE(ready);
  CHECK(ready->at > connected);
  CHECK(absl::StrContains(ready->Get("STATUS"),
                          "serving " + agent.listen_path + " (socket activation)"));
  for (auto& calls : health) {
    REQUIRE(calls->WaitAll(absl::Seconds(20)));
    const auto result = calls->Results()[0];
    CHECK(result.code == 0);
    CHECK(result.body == std::string("\x08\x01", 2));  // SERVING
  }
  // The generated stub works over an early connection as over any other.
  auto stub = pb::RuntimeService::NewStub(channels[0]);
  pb::GetAgentInfoResponse info;
  REQUIRE(stub->GetAgentInfo(Ctx().get(), {}, &info).ok());
  CHECK(info.backend() == "mock");

  // The agent bound nothing of its own.
  CHECK(::access((dir.path() + "/own.sock").c_str(), F_OK) != 0);
  CHECK(agent.output.WaitForText("socket activation: serving 1 inherited socket(s) path=" +
                                     agent.listen_path,
                                 absl::Seconds(1)));
  CHECK(agent.output.WaitForText("listen.socket=" + dir.path() + "/own.sock is not bound",
                                 absl::Seconds(1)));
  channels.clear();
  CHECK(agent.Stop() == 0);
}

TEST_CASE("socket activation: unary and streaming calls over the inherited socket",
          "[integration][systemd]") {
  auto dir = MakeTempDir("zt-sda-");
  Activated agent(dir.path());
  INFO(agent.output.Text());
  // The first connection starts the agent; it is a plain client channel.
  auto channel = grpc::CreateChannel("unix:" + agent.listen_path,
                                     grpc::InsecureChannelCredentials());
  auto stub = pb::RuntimeService::NewStub(channel);
  pb::GetAgentInfoResponse info;
  auto ctx = Ctx(absl::Seconds(30));
  ctx->set_wait_for_ready(true);
  REQUIRE(stub->GetAgentInfo(ctx.get(), {}, &info).ok());
  REQUIRE(agent.notify.WaitFor("READY", "1", absl::Seconds(20)));

  // Many connections, each accepted and handed to gRPC.
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < 20; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("zlayer.test.distinct", i);  // no subchannel sharing: 20 connections
    channels.push_back(grpc::CreateCustomChannel("unix:" + agent.listen_path,
                                                 grpc::InsecureChannelCredentials(), args));
  }
  for (auto& ch : channels) {
    pb::GetAgentInfoResponse r;
    CHECK(pb::RuntimeService::NewStub(ch)->GetAgentInfo(Ctx().get(), {}, &r).ok());
  }

  // A server stream: Wait on a container sees its state, then its exit.
  const pb::CreateContainerRequest create =
      zlayer::testing::PlainCreateRequest("web", 1, "busybox");
  pb::CreateContainerResponse created;
  REQUIRE(stub->CreateContainer(Ctx().get(), create, &created).ok());
  pb::StartContainerRequest start;
  *start.mutable_id() = create.id();
  pb::StartContainerResponse started;
  REQUIRE(stub->StartContainer(Ctx().get(), start, &started).ok());
  pb::WaitRequest wait;
  *wait.mutable_id() = create.id();
  auto wctx = Ctx(absl::Seconds(20));
  auto reader = stub->Wait(wctx.get(), wait);
  pb::WaitEvent event;
  REQUIRE(reader->Read(&event));
  CHECK(event.has_state());
  pb::KillContainerRequest kill;
  *kill.mutable_id() = create.id();
  pb::KillContainerResponse killed;
  REQUIRE(stub->KillContainer(Ctx().get(), kill, &killed).ok());
  bool saw_outcome = false;
  while (reader->Read(&event)) saw_outcome = saw_outcome || event.has_outcome();
  CHECK(reader->Finish().ok());
  CHECK(saw_outcome);

  // SIGTERM: STOPPING=1, exit 0, and the socket file is left for its owner.
  struct stat before;
  REQUIRE(::stat(agent.listen_path.c_str(), &before) == 0);
  // systemd-socket-activate exec'd the agent, so its pid is the agent's.
  CHECK(agent.Stop() == 0);
  auto stopping = agent.notify.WaitFor("STOPPING", "1", absl::Seconds(1));
  REQUIRE(stopping);
  struct stat after;
  CHECK(::stat(agent.listen_path.c_str(), &after) == 0);
  CHECK(after.st_ino == before.st_ino);
}

TEST_CASE("socket activation: LISTEN_FDS for another pid is ignored", "[integration][systemd]") {
  // The variables leaked from an ancestor: the agent binds its own socket.
  AgentOptions options;
  options.extra_env = {"LISTEN_FDS=1", "LISTEN_PID=1"};
  AgentProcess agent(options);
  struct stat st;
  REQUIRE(::stat(agent.socket_path().c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK(agent.Log().find("socket activation") == std::string::npos);
}

TEST_CASE("socket activation: connections made while the agent restarts wait and are served",
          "[integration][systemd]") {
  // The test plays the .socket unit: it owns the listening socket and passes it
  // to each agent it starts, as systemd does across `systemctl restart`.
  auto dir = MakeTempDir("zt-sda-");
  const std::string path = dir.path() + "/api.sock";
  zlayer::base::UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(listener);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  REQUIRE(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(listener.get(), 128) == 0);
  NotifySocket notify(dir.path() + "/notify");
  OutputCollector output;
  auto launch_agent = [&] {
    LaunchOptions launch;
    launch.argv = {AgentdBin(), "--backend", "mock", "--data-dir", dir.path() + "/data",
                   "--run-dir", dir.path() + "/run", "--log-level", "debug"};
    launch.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                  notify.Env()};
    launch.listen_fd = listener.get();
    launch.output_fd = output.write_fd();
    return std::make_unique<LaunchedProcess>(launch);
  };

  auto first = launch_agent();
  REQUIRE(notify.WaitFor("READY", "1", absl::Seconds(20)));
  auto channel = grpc::CreateChannel("unix:" + path, grpc::InsecureChannelCredentials());
  pb::GetAgentInfoResponse before;
  REQUIRE(pb::RuntimeService::NewStub(channel)->GetAgentInfo(Ctx().get(), {}, &before).ok());
  CHECK(first->Stop() == 0);
  REQUIRE(notify.WaitFor("STOPPING", "1", absl::Seconds(1)));
  INFO(output.Text());

  // No agent runs now. A client connects and sends its call; the kernel queues
  // the connection on the socket the agent left open.
  auto queued = grpc::CreateInsecureChannelFromFd("restart", ConnectUnix(path));
  GenericCalls waiting(queued, "/grpc.health.v1.Health/Check", "", 1, absl::Seconds(30));
  CHECK_FALSE(waiting.WaitAll(absl::Milliseconds(300)));  // nobody to answer yet

  auto second = launch_agent();
  auto ready = notify.WaitFor("READY", "1", absl::Seconds(20));
  REQUIRE(ready);
  CHECK(absl::StrContains(ready->Get("STATUS"), "serving " + path + " (socket activation)"));
  REQUIRE(waiting.WaitAll(absl::Seconds(20)));
  CHECK(waiting.Results()[0].code == 0);
  // It is the new agent that answered.
  pb::GetAgentInfoResponse after;
  REQUIRE(pb::RuntimeService::NewStub(queued)->GetAgentInfo(Ctx().get(), {}, &after).ok());
  CHECK(after.started_at().seconds() * 1'000'000'000LL + after.started_at().nanos() >
        before.started_at().seconds() * 1'000'000'000LL + before.started_at().nanos());
  CHECK(second->Stop() == 0);
}
