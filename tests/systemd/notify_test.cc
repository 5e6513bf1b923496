// The sd_notify protocol as systemd sees it: the test owns the notification
// socket (NOTIFY_SOCKET), plays the watchdog (WATCHDOG_USEC, WATCHDOG_PID), and
// checks READY=1, STATUS=, WATCHDOG=1 and its cadence, RELOADING=1 then READY=1 on
// SIGHUP, and STOPPING=1.
#include <signal.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "sd_test_support.h"
#include "support/agent_process.h"
#include "support/rpc_builders.h"
#include "support/test_support.h"

using namespace zlayer::testing;
namespace pb = zlayer::agent::v1;

namespace {

const char kPath[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

struct MockAgent {
  explicit MockAgent(const std::string& root, std::vector<std::string> env,
                     std::vector<std::string> extra_args = {}, bool watchdog_pid_self = true)
      : notify(root + "/notify"), log_path(root + "/agentd.log"), socket(root + "/agentd.sock") {
    env.push_back(kPath);
    env.push_back(notify.Env());
    LaunchOptions launch;
    launch.argv = {AgentdBin(), "--backend", "mock", "--socket", socket,
                   "--data-dir", root + "/data", "--run-dir", root + "/run",
                   "--log-level", "debug"};
    for (auto& a : extra_args) launch.argv.push_back(a);
    launch.env = env;
    launch.watchdog_pid_self = watchdog_pid_self;
    launch.output_fd = output.write_fd();
    process.emplace(launch);
    output.CloseWriteEnd();
  }
  std::shared_ptr<grpc::Channel> Channel() const {
    return grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials());
  }

  NotifySocket notify;
  std::string log_path;
  std::string socket;
  OutputCollector output;
  std::optional<LaunchedProcess> process;
};

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

}  // namespace

TEST_CASE("notify: STATUS while starting, READY=1 with a summary, STOPPING=1 at SIGTERM",
          "[integration][systemd]") {
  auto dir = MakeTempDir("zt-sdn-");
  MockAgent agent(dir.path(), {});
  std::vector<Notification> seen;
  auto ready = agent.notify.WaitFor("READY", "1", absl::Seconds(20), &seen);
  REQUIRE(ready);
  INFO(agent.output.Text());
  // A STATUS= line came first, while the backend recovered its state.
  REQUIRE(seen.size() >= 2);
  CHECK(absl::StartsWith(seen[0].Get("STATUS"), "starting: backend=mock"));
  CHECK(absl::StrContains(seen[0].Get("STATUS"), "recovering state"));
  // READY=1 carries what the operator wants to see in `systemctl status`.
  const std::string status = ready->Get("STATUS");
  CHECK(absl::StartsWith(status, "ready: backend=mock"));
  CHECK(absl::StrContains(status, "containers=0 running=0"));
  CHECK(absl::StrContains(status, "recovered in"));
  CHECK(absl::StrContains(status, "serving " + agent.socket));
  // READY=1 means the socket answers.
  auto stub = pb::RuntimeService::NewStub(agent.Channel());
  pb::GetAgentInfoResponse info;
  CHECK(stub->GetAgentInfo(Ctx().get(), {}, &info).ok());
  // Every notification came from the main pid: NotifyAccess=main accepts them.
  for (const auto& n : seen) CHECK(n.sender == agent.process->pid());

  agent.process->Signal(SIGTERM);
  auto stopping = agent.notify.WaitFor("STOPPING", "1", absl::Seconds(15));
  REQUIRE(stopping);
  CHECK(stopping->sender == agent.process->pid());
  CHECK(absl::StrContains(stopping->Get("STATUS"), "containers keep running"));
  CHECK(agent.process->Wait(absl::Seconds(15)) == 0);
}

TEST_CASE("notify: no READY=1 when start-up fails", "[integration][systemd]") {
  auto dir = MakeTempDir("zt-sdn-");
  // A regular file where the socket's directory should be: the server cannot bind.
  WriteFile(dir.path() + "/blocker", "");
  NotifySocket notify(dir.path() + "/notify");
  OutputCollector output;
  LaunchOptions launch;
  launch.argv = {AgentdBin(), "--backend", "mock", "--socket", dir.path() + "/blocker/a.sock",
                 "--data-dir", dir.path() + "/data", "--run-dir", dir.path() + "/run"};
  launch.env = {kPath, notify.Env()};
  launch.output_fd = output.write_fd();
  LaunchedProcess process(launch);
  output.CloseWriteEnd();
  CHECK(process.Wait(absl::Seconds(20)) == 1);
  // Everything it said arrived before it exited; none of it was READY=1, and
  // the last STATUS= says why it failed.
  std::string last_status;
  while (auto n = notify.Next(absl::Milliseconds(100))) {
    CHECK_FALSE(n->Has("READY"));
    if (n->Has("STATUS")) last_status = n->Get("STATUS");
  }
  CHECK(absl::StartsWith(last_status, "failed: "));
}

TEST_CASE("watchdog: WATCHDOG=1 at half of WATCHDOG_USEC", "[integration][systemd]") {
  auto dir = MakeTempDir("zt-sdw-");
  // 1 s: a ping every 500 ms.
  MockAgent agent(dir.path(), {"WATCHDOG_USEC=1000000"});
  REQUIRE(agent.notify.WaitFor("READY", "1", absl::Seconds(20)));
  INFO(agent.output.Text());
  std::vector<absl::Time> pings;
  const absl::Time until = absl::Now() + absl::Seconds(4);
  while (absl::Now() < until) {
    auto n = agent.notify.Next(until - absl::Now());
    if (!n) break;
    if (n->Has("WATCHDOG", "1")) {
      CHECK(n->sender == agent.process->pid());
      pings.push_back(n->at);
    }
  }
  REQUIRE(pings.size() >= 6);
  absl::Duration longest, total;
  absl::Duration shortest = absl::InfiniteDuration();
  for (size_t i = 1; i < pings.size(); ++i) {
    const absl::Duration gap = pings[i] - pings[i - 1];
    longest = std::max(longest, gap);
    shortest = std::min(shortest, gap);
    total += gap;
  }
  const absl::Duration mean = total / static_cast<int64_t>(pings.size() - 1);
  WARN("watchdog cadence: " << pings.size() << " pings, mean "
                                     << absl::FormatDuration(mean) << ", min "
                                     << absl::FormatDuration(shortest) << ", max "
                                     << absl::FormatDuration(longest));
  // Half of WATCHDOG_USEC on average, and never as late as WATCHDOG_USEC itself
  // (systemd would have killed us).
  CHECK(mean >= absl::Milliseconds(450));
  CHECK(mean <= absl::Milliseconds(600));
  CHECK(shortest >= absl::Milliseconds(250));
  CHECK(longest < absl::Milliseconds(1000));
  CHECK(agent.process->Stop() == 0);
}

TEST_CASE("watchdog: off when WATCHDOG_PID names another process", "[integration][systemd]") {
  auto dir = MakeTempDir("zt-sdw-");
  // The variables were meant for some ancestor (systemd sets WATCHDOG_PID for
  // exactly this reason): the agent must not ping on its behalf.
  MockAgent agent(dir.path(), {"WATCHDOG_USEC=400000", "WATCHDOG_PID=1"}, {},
                  /*watchdog_pid_self=*/false);
  REQUIRE(agent.notify.WaitFor("READY", "1", absl::Seconds(20)));
  // An absence has no event: 1.5 s is nearly 8 ping intervals.
  CHECK_FALSE(agent.notify.WaitFor("WATCHDOG", "1", absl::Milliseconds(1500)));
  CHECK_FALSE(agent.output.WaitForText("watchdog on", absl::ZeroDuration()));
  CHECK(agent.process->Stop() == 0);
}

TEST_CASE("reload: SIGHUP sends RELOADING=1, then READY=1 with the outcome",
          "[integration][systemd]") {
  auto dir = MakeTempDir("zt-sdr-");
  const std::string config = dir.path() + "/agentd.yaml";
  WriteFile(config, "log_level: info\nlimits:\n  work_threads: 4\n");
  // Started without --log-level, so the file decides it.
  NotifySocket notify(dir.path() + "/notify");
  OutputCollector output;
  LaunchOptions launch;
  const std::string socket = dir.path() + "/agentd.sock";
  launch.argv = {AgentdBin(), "--config", config, "--backend", "mock", "--socket", socket,
                 "--data-dir", dir.path() + "/data", "--run-dir", dir.path() + "/run"};
  launch.env = {kPath, notify.Env()};
  launch.output_fd = output.write_fd();
  LaunchedProcess process(launch);
  output.CloseWriteEnd();
  REQUIRE(notify.WaitFor("READY", "1", absl::Seconds(20)));
  INFO(output.Text());

  // A container, so the status after reload counts one.
  auto stub = pb::RuntimeService::NewStub(
      grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials()));
  const pb::CreateContainerRequest create =
      zlayer::testing::PlainCreateRequest("web", 1, "busybox");
  pb::CreateContainerResponse created;
  REQUIRE(stub->CreateContainer(Ctx().get(), create, &created).ok());

  SECTION("a good file: log_level applies at once, other changes wait for a restart") {
    WriteFile(config, "log_level: debug\nlimits:\n  work_threads: 2\n");
    process.Signal(SIGHUP);
    std::vector<Notification> seen;
    auto reloading = notify.WaitFor("RELOADING", "1", absl::Seconds(10), &seen);
    REQUIRE(reloading);
    CHECK(reloading->Has("MONOTONIC_USEC"));
    CHECK(absl::StrContains(reloading->Get("STATUS"), "reloading " + config));
    auto ready = notify.WaitFor("READY", "1", absl::Seconds(10));
    REQUIRE(ready);
    const std::string status = ready->Get("STATUS");
    CHECK(absl::StartsWith(status, "ready (reloaded; restart to apply limits.work_threads)"));
    CHECK(absl::StrContains(status, "containers=1"));
    CHECK(output.WaitForText("reloaded config file=" + config + " log_level=debug",
                             absl::Seconds(5)));
    // Debug logging is on now: a failed call logs at debug level.
    pb::GetContainerStateRequest missing;
    missing.mutable_id()->set_service("nope");
    missing.mutable_id()->set_replica(1);
    pb::GetContainerStateResponse state;
    CHECK(stub->GetContainerState(Ctx().get(), missing, &state).error_code() ==
          grpc::StatusCode::NOT_FOUND);
    CHECK(output.WaitForText("debug api: rpc failed method=GetContainerState",
                             absl::Seconds(5)));
  }
  SECTION("a broken file: the old settings stay and the agent stays up") {
    WriteFile(config, "log_level: loud\n");
    process.Signal(SIGHUP);
    REQUIRE(notify.WaitFor("RELOADING", "1", absl::Seconds(10)));
    auto ready = notify.WaitFor("READY", "1", absl::Seconds(10));
    REQUIRE(ready);
    CHECK(absl::StartsWith(ready->Get("STATUS"), "ready (reload failed"));
    CHECK(output.WaitForText(config + ":1:12: log_level: expected trace", absl::Seconds(5)));
    pb::GetAgentInfoResponse info;
    CHECK(stub->GetAgentInfo(Ctx().get(), {}, &info).ok());
  }
  CHECK(process.Stop() == 0);
}
