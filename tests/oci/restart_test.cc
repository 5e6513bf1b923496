// Restart policies on real containers: backoff, limits, what the API stops, OOM,
// health that acts, and restarts exactly once across agent kills.
#include <algorithm>
#include <catch2/catch.hpp>

#include "base/time_util.h"
#include "oci_env.h"
#include "support/test_support.h"

using namespace zlayer::testing;
namespace pb = zlayer::agent::v1;

namespace {

void SetDuration(google::protobuf::Duration* out, absl::Duration d) {
  const int64_t nanos = absl::ToInt64Nanoseconds(d);
  out->set_seconds(nanos / 1'000'000'000);
  out->set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
}

void Policy(pb::ServiceSpec* spec, const std::string& name, absl::Duration base,
            absl::Duration max = absl::Seconds(5)) {
  spec->mutable_restart()->set_policy(name);
  SetDuration(spec->mutable_restart()->mutable_backoff_base(), base);
  SetDuration(spec->mutable_restart()->mutable_backoff_max(), max);
}

pb::Supervision Supervision(OciEnv& env, const pb::ContainerId& id) {
  const pb::ContainerInfo info = env.Inspect(id);
  REQUIRE(info.has_supervision());
  return info.supervision();
}

// The times of the log lines that say exactly `text`, in order.
std::vector<absl::Time> LineTimes(OciEnv& env, const pb::ContainerId& id, const std::string& text) {
  std::vector<absl::Time> out;
  for (const auto& entry : env.Logs(id)) {
    if (entry.message() == text) {
      out.push_back(absl::FromUnixSeconds(entry.timestamp().seconds()) +
                    absl::Nanoseconds(entry.timestamp().nanos()));
    }
  }
  return out;
}

size_t CountLinesStarting(OciEnv& env, const pb::ContainerId& id, const std::string& prefix) {
  size_t n = 0;
  for (const auto& entry : env.Logs(id)) {
    if (entry.message().rfind(prefix, 0) == 0) ++n;
  }
  return n;
}

bool Terminal(const pb::ContainerState& state) {
  return state.phase() == pb::CONTAINER_PHASE_EXITED || state.phase() == pb::CONTAINER_PHASE_FAILED;
}

grpc::Status Kill(OciEnv& env, const pb::ContainerId& id, const std::string& signal) {
  pb::KillContainerRequest req;
  *req.mutable_id() = id;
  req.set_signal(signal);
  pb::KillContainerResponse resp;
  return env.stub().KillContainer(Ctx().get(), req, &resp);
}

grpc::Status Stop(OciEnv& env, const pb::ContainerId& id, absl::Duration timeout) {
  pb::StopContainerRequest req;
  *req.mutable_id() = id;
  SetDuration(req.mutable_timeout(), timeout);
  pb::StopContainerResponse resp;
  return env.stub().StopContainer(Ctx(absl::Seconds(60)).get(), req, &resp);
}

}  // namespace

TEST_CASE("restart: on-failure restarts with growing delays and gives up after its limit",
          "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  auto spec = env.Shell("echo run; exit 1");
  Policy(&spec, "on-failure:3", absl::Milliseconds(300));
  const auto id = env.Create("crashy", 1, spec);
  env.Start(id);
  REQUIRE(WaitFor([&] { return !Supervision(env, id).not_restarting().empty(); }, absl::Seconds(30),
                  absl::Milliseconds(50)));
  const pb::Supervision sup = Supervision(env, id);
  CHECK(sup.policy() == "on-failure:3");
  CHECK(sup.restart_count() == 3);
  CHECK(sup.not_restarting() == "on-failure limit reached (3 restarts)");
  CHECK_FALSE(sup.has_next_restart_at());
  REQUIRE(sup.history_size() == 4);
  for (int i = 0; i < 4; ++i) {
    CHECK(sup.history(i).outcome().exit_code() == 1);
    CHECK(sup.history(i).cause() == "exited");
    CHECK(sup.history(i).restarted() == (i < 3));
  }
  CHECK(env.State(id).phase() == pb::CONTAINER_PHASE_EXITED);
  // Four runs, one log, a marker before each restart.
  const auto runs = LineTimes(env, id, "run");
  REQUIRE(runs.size() == 4);
  CHECK(CountLinesStarting(env, id, "[zlayer] restarting (restart ") == 3);
  // The delays double: 300 ms, 600 ms, 1.2 s. Only lower bounds and order are
  // asserted (a busy machine adds time, never removes it).
  std::vector<absl::Duration> gaps;
  for (size_t i = 1; i < runs.size(); ++i) gaps.push_back(runs[i] - runs[i - 1]);
  INFO("gaps " << absl::FormatDuration(gaps[0]) << " " << absl::FormatDuration(gaps[1]) << " "
               << absl::FormatDuration(gaps[2]));
  CHECK(gaps[0] >= absl::Milliseconds(300));
  CHECK(gaps[1] >= absl::Milliseconds(600));
  CHECK(gaps[2] >= absl::Milliseconds(1200));
  CHECK(gaps[1] > gaps[0]);
  CHECK(gaps[2] > gaps[1]);
  // Nothing more comes.
  absl::SleepFor(absl::Seconds(2));
  CHECK(LineTimes(env, id, "run").size() == 4);
  // An API start begins the count again.
  env.Start(id);
  REQUIRE(WaitFor([&] { return Supervision(env, id).restart_count() >= 1; }, absl::Seconds(20),
                  absl::Milliseconds(50)));
}

TEST_CASE("restart: always restarts an exit 0, and an API stop is not undone", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  auto spec = env.Shell("echo run; sleep 0.2; exit 0");
  Policy(&spec, "always", absl::Milliseconds(100), absl::Milliseconds(200));
  const auto id = env.Create("always", 1, spec);
  env.Start(id);
  REQUIRE(WaitFor([&] { return Supervision(env, id).restart_count() >= 2; }, absl::Seconds(30),
                  absl::Milliseconds(50)));
  REQUIRE(Stop(env, id, absl::Seconds(5)).ok());
  REQUIRE(WaitFor([&] { return Terminal(env.State(id)); }, absl::Seconds(10)));
  const auto count = Supervision(env, id).restart_count();
  const auto runs = LineTimes(env, id, "run").size();
  absl::SleepFor(absl::Seconds(2));
  CHECK(Terminal(env.State(id)));
  CHECK(Supervision(env, id).restart_count() == count);
  CHECK(LineTimes(env, id, "run").size() == runs);
  CHECK(Supervision(env, id).not_restarting() == "stopped through the API");
  CHECK_FALSE(Supervision(env, id).has_next_restart_at());
}

TEST_CASE("restart: an API kill is not undone, a reload signal does not count", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  auto spec = env.Shell("trap 'echo hup' HUP; while true; do sleep 0.1; done");
  Policy(&spec, "on-failure", absl::Milliseconds(100));
  const auto id = env.Create("killed", 1, spec);
  env.Start(id);
  REQUIRE(Kill(env, id, "SIGHUP").ok());
  REQUIRE(WaitFor([&] { return CountLinesStarting(env, id, "hup") == 1; }, absl::Seconds(10)));
  CHECK(env.State(id).phase() == pb::CONTAINER_PHASE_RUNNING);
  REQUIRE(Kill(env, id, "SIGKILL").ok());
  const auto outcome = env.WaitOutcome(id);
  CHECK(outcome.exit_code() == 137);
  absl::SleepFor(absl::Seconds(1));
  CHECK(Terminal(env.State(id)));
  CHECK(Supervision(env, id).restart_count() == 0);
  CHECK(Supervision(env, id).not_restarting() == "killed through the API");
}

TEST_CASE("restart: an OOM kill is a failure; the restart history keeps its outcome",
          "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  auto spec = env.Shell("echo run; exec /bin/hog mem 256");
  spec.mutable_resources()->set_memory_bytes(32ull << 20);
  Policy(&spec, "on-failure:1", absl::Milliseconds(100));
  const auto id = env.Create("oom", 1, spec);
  env.Start(id);
  REQUIRE(WaitFor([&] { return !Supervision(env, id).not_restarting().empty(); }, absl::Seconds(60),
                  absl::Milliseconds(100)));
  const auto sup = Supervision(env, id);
  CHECK(sup.restart_count() == 1);
  REQUIRE(sup.history_size() == 2);
  CHECK(sup.history(0).outcome().reason() == pb::WAIT_REASON_OOM_KILLED);
  CHECK(sup.history(0).restarted());
  CHECK(sup.history(1).outcome().reason() == pb::WAIT_REASON_OOM_KILLED);
  CHECK(LineTimes(env, id, "run").size() == 2);
}

TEST_CASE("restart: a failing HTTP health check makes it unhealthy and restarts it",
          "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  // The first run serves no /health (404); the run after the restart does. The
  // root file system is kept across restarts, so /started tells the runs apart.
  auto spec = env.Shell(
      "mkdir -p /www; if [ -e /started ]; then echo ok > /www/health; fi; touch /started; "
      "echo run; exec httpd -f -p 8080 -h /www");
  Policy(&spec, "on-failure", absl::Milliseconds(100));
  SetDuration(spec.mutable_stop_grace_period(), absl::Seconds(1));
  auto* health = spec.mutable_health();
  SetDuration(health->mutable_interval(), absl::Milliseconds(200));
  SetDuration(health->mutable_timeout(), absl::Seconds(2));
  health->set_retries(2);
  health->mutable_http()->set_url("http://127.0.0.1:8080/health");
  health->set_restart_on_unhealthy(true);
  const auto id = env.Create("sick", 1, spec);
  env.Start(id);
  REQUIRE(WaitFor([&] { return Supervision(env, id).restart_count() == 1; }, absl::Seconds(40),
                  absl::Milliseconds(100)));
  REQUIRE(WaitFor(
      [&] {
        const auto info = env.Inspect(id);
        return info.health().status() == "healthy";
      },
      absl::Seconds(20), absl::Milliseconds(100)));
  const auto sup = Supervision(env, id);
  REQUIRE(sup.history_size() == 1);
  CHECK(sup.history(0).cause() == "unhealthy");
  CHECK(sup.history(0).restarted());
  CHECK(env.State(id).phase() == pb::CONTAINER_PHASE_RUNNING);
  CHECK(LineTimes(env, id, "run").size() == 2);
}

TEST_CASE("restart: agent killed at the moment of exit, 20 rounds: none twice, none missed",
          "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  auto spec = env.Shell("echo run; sleep 0.5; exit 3");
  Policy(&spec, "on-failure", absl::Milliseconds(100), absl::Milliseconds(200));
  // A long reset_after keeps the backoff at its cap instead of resetting.
  const auto id = env.Create("phoenix", 1, spec);
  env.Start(id);
  int missed = 0;
  for (int round = 0; round < 20; ++round) {
    const size_t before = LineTimes(env, id, "run").size();
    // Kill the agent at points spread over one run and its restart delay (about
    // 0.5 s of run, 0.2 s of backoff): before, at and after the exit.
    absl::SleepFor(absl::Milliseconds(350 + (round * 37) % 400));
    env.RestartAgent(/*crash=*/true);
    // Supervision continues: another run comes.
    if (!WaitFor([&] { return LineTimes(env, id, "run").size() > before; }, absl::Seconds(15),
                 absl::Milliseconds(50))) {
      ++missed;
    }
  }
  // Let it settle in a known place, then count.
  REQUIRE(Stop(env, id, absl::Seconds(5)).ok());
  REQUIRE(WaitFor([&] { return Terminal(env.State(id)); }, absl::Seconds(10)));
  const size_t runs = LineTimes(env, id, "run").size();
  const auto sup = Supervision(env, id);
  // Every run after the first is one counted restart: a restart made twice shows
  // as more runs than restarts + 1, a restart not counted (or lost) as fewer.
  const long double_restarts =
      static_cast<long>(runs) - (static_cast<long>(sup.restart_count()) + 1);
  INFO("runs " << runs << " restart_count " << sup.restart_count() << "\n" << env.agent().Log());
  CHECK(missed == 0);
  CHECK(double_restarts == 0);
  CHECK(runs >= 20);
  CHECK(CountLinesStarting(env, id, "[zlayer] restarting (restart ") == runs - 1);
}

TEST_CASE("restart: an OOM kill under the init for PID 1 is still reported oom_killed",
          "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  // The kernel kills the workload, not the init; the init then exits 137.
  auto spec = env.Shell("exec /bin/hog mem 256");
  spec.mutable_resources()->set_memory_bytes(32ull << 20);
  spec.set_init_process(true);
  const auto id = env.Create("oominit", 1, spec);
  env.Start(id);
  const auto outcome = env.WaitOutcome(id);
  CHECK(outcome.reason() == pb::WAIT_REASON_OOM_KILLED);
  CHECK(outcome.exit_code() == 137);
}

TEST_CASE("restart: a start that keeps failing (its init step) still reaches the on-failure limit",
          "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  auto spec = env.Shell("echo never");
  Policy(&spec, "on-failure:2", absl::Milliseconds(100));
  auto* step = spec.add_init();
  step->set_name("gate");
  for (const char* arg : {"sh", "-c", "echo gate-closed; exit 1"}) {
    step->mutable_run()->add_command(arg);
  }
  const auto id = env.Create("gated", 1, spec);
  pb::StartContainerRequest req;
  *req.mutable_id() = id;
  pb::StartContainerResponse resp;
  CHECK(env.stub().StartContainer(Ctx(absl::Seconds(60)).get(), req, &resp).error_code() ==
        grpc::StatusCode::FAILED_PRECONDITION);
  REQUIRE(WaitFor([&] { return !Supervision(env, id).not_restarting().empty(); }, absl::Seconds(30),
                  absl::Milliseconds(50)));
  const auto sup = Supervision(env, id);
  CHECK(sup.restart_count() == 2);
  CHECK(sup.not_restarting() == "on-failure limit reached (2 restarts)");
  REQUIRE(sup.history_size() == 3);
  CHECK(sup.history(2).outcome().reason() == pb::WAIT_REASON_RUNTIME_ERROR);
  CHECK(sup.history(2).outcome().message().find("init step 'gate'") != std::string::npos);
  CHECK(env.State(id).phase() == pb::CONTAINER_PHASE_FAILED);
  CHECK(CountLinesStarting(env, id, "gate-closed") == 3);
  CHECK(CountLinesStarting(env, id, "never") == 0);
}
