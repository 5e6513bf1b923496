// The agent dies (SIGKILL) or restarts; containers do not notice, and the new agent
// tells the truth about every one of them.
#include <catch2/catch.hpp>
#include <signal.h>

#include "absl/strings/str_split.h"
#include "base/fs_util.h"
#include "base/process.h"
#include "oci_env.h"
#include "support/test_support.h"

using namespace zlayer::testing;
namespace pb = zlayer::agent::v1;

namespace {

std::string StateDir(OciEnv& env, const std::string& name) {
  return env.agent().root() + "/data/containers/" + name + "/state";
}

// Mounts under the agent's state directory, from /proc/self/mountinfo.
int MountsUnder(const std::string& dir) {
  auto info = zlayer::base::ReadFile("/proc/self/mountinfo");
  int n = 0;
  for (absl::string_view line : absl::StrSplit(*info, '\n')) {
    if (line.find(" " + dir) != absl::string_view::npos) ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("agent SIGKILL and restart: running, exited, created containers", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  // A counter that never stops: its log must have no gap across the restart.
  const auto running = env.Create("counter", 1,
                                  env.Shell("i=0; while true; do i=$((i+1)); echo $i; sleep 0.02; done"));
  // Ends while the agent is down.
  const auto ending = env.Create("ending", 1,
                                 env.Shell("while [ ! -e /tmp/go ]; do sleep 0.02; done; exit 7"));
  const auto created = env.Create("created", 1, env.Shell("echo late start"));
  const auto exited = env.Create("exited", 1, env.Shell("exit 3"));
  env.Start(running);
  env.Start(ending);
  env.Start(exited);
  CHECK(env.WaitOutcome(exited).exit_code() == 3);
  const uint32_t pid_before = env.Inspect(running).pid();
  REQUIRE(pid_before > 0);

  env.agent().Kill();
  // While the agent is away, one container finishes. Its monitor writes the truth.
  {
    zlayer::base::RunOptions touch;
    touch.argv = {"/bin/sh", "-c",
                  "touch " + env.agent().root() + "/data/containers/ending-rep-1/rootfs/tmp/go"};
    REQUIRE(zlayer::base::RunCommand(touch)->ok());
  }
  REQUIRE(WaitFor([&] { return ::access((StateDir(env, "ending-rep-1") + "/exit.json").c_str(), F_OK) == 0; },
                  absl::Seconds(20)));
  // And the counter keeps counting.
  absl::SleepFor(absl::Milliseconds(300));
  env.RestartAgent(/*crash=*/false);

  auto info = env.Inspect(running);
  CHECK(info.state().phase() == pb::CONTAINER_PHASE_RUNNING);
  CHECK(info.pid() == pid_before);
  CHECK(::kill(static_cast<pid_t>(pid_before), 0) == 0);

  auto ending_state = env.State(ending);
  CHECK(ending_state.phase() == pb::CONTAINER_PHASE_EXITED);
  CHECK(ending_state.exit_code() == 7);
  auto ending_outcome = env.WaitOutcome(ending, absl::Seconds(5));
  CHECK(ending_outcome.exit_code() == 7);
  CHECK(ending_outcome.reason() == pb::WAIT_REASON_EXITED);
  CHECK(ending_outcome.has_finished_at());

  CHECK(env.State(created).phase() == pb::CONTAINER_PHASE_INITIALIZING);
  CHECK(env.State(exited).exit_code() == 3);
  CHECK(env.WaitOutcome(exited, absl::Seconds(5)).exit_code() == 3);

  // The re-adopted container is fully usable.
  CHECK(env.Exec(running, {"echo", "still here"}).stdout() == "still here\n");
  env.Start(created);
  CHECK(env.WaitOutcome(created).exit_code() == 0);

  // Its log has no gap: the monitor kept writing while no agent existed.
  pb::StopContainerRequest stop;
  *stop.mutable_id() = running;
  stop.mutable_timeout()->set_seconds(1);
  pb::StopContainerResponse stop_resp;
  REQUIRE(env.stub().StopContainer(Ctx(absl::Seconds(30)).get(), stop, &stop_resp).ok());
  auto logs = env.Logs(running);
  REQUIRE(logs.size() > 20);
  for (size_t i = 0; i < logs.size(); ++i) {
    if (logs[i].message() != std::to_string(i + 1)) {
      FAIL("line " << i + 1 << " is '" << logs[i].message() << "'");
    }
  }

  SECTION("nothing is leaked once they are removed") {
    for (const auto& id : {running, ending, created, exited}) env.Remove(id);
    CHECK(MountsUnder(env.agent().root()) == 0);
    zlayer::base::RunOptions list;
    list.argv = {"/usr/sbin/runc", "--root", env.agent().root() + "/run/runtime", "list", "-q"};
    auto r = zlayer::base::RunCommand(list);
    REQUIRE(r.ok());
    CHECK(r->out.empty());
  }
}

TEST_CASE("a container whose monitor dies is reported Failed", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  const auto id = env.Create("orphan", 1, env.Shell("sleep 600"));
  env.Start(id);
  const auto info = env.Inspect(id);
  const pid_t monitor = std::stoi(info.annotations().at("monitor_pid"));
  SECTION("while the agent runs") {
    REQUIRE(::kill(monitor, SIGKILL) == 0);
    REQUIRE(WaitFor([&] { return env.State(id).phase() == pb::CONTAINER_PHASE_FAILED; },
                    absl::Seconds(10), absl::Milliseconds(20)));
    CHECK(env.State(id).reason().find("monitor") != std::string::npos);
    auto outcome = env.WaitOutcome(id, absl::Seconds(5));
    CHECK(outcome.reason() == pb::WAIT_REASON_RUNTIME_ERROR);
  }
  SECTION("while the agent is down") {
    env.agent().Kill();
    REQUIRE(::kill(monitor, SIGKILL) == 0);
    REQUIRE(WaitFor([&] { return ::kill(monitor, 0) != 0; }, absl::Seconds(10)));
    env.RestartAgent(false);
    auto state = env.State(id);
    CHECK(state.phase() == pb::CONTAINER_PHASE_FAILED);
    CHECK(state.reason().find("died while the agent was down") != std::string::npos);
    // The unsupervised container was not left running.
    CHECK(WaitFor([&] { return ::kill(static_cast<pid_t>(info.pid()), 0) != 0; }, absl::Seconds(10)));
  }
}
