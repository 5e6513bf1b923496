// Lifecycle of real containers through the gRPC API: states, exit codes, signals,
// OOM, stop escalation, runtime errors.
#include <catch2/catch.hpp>
#include <sys/stat.h>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "base/fs_util.h"
#include "base/process.h"
#include "oci_env.h"
#include "support/test_support.h"

using namespace zlayer::testing;
namespace pb = zlayer::agent::v1;

TEST_CASE("a container goes pending, initializing, running, exited", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  const auto id = env.Create("life", 1, env.Shell("echo started; read x; exit 3"));
  CHECK(env.State(id).phase() == pb::CONTAINER_PHASE_INITIALIZING);

  pb::WaitRequest wreq;
  *wreq.mutable_id() = id;
  auto ctx = Ctx(absl::Seconds(60));
  auto wait = env.stub().Wait(ctx.get(), wreq);
  pb::WaitEvent ev;
  REQUIRE(wait->Read(&ev));
  CHECK(ev.state().phase() == pb::CONTAINER_PHASE_INITIALIZING);

  env.Start(id);
  // stdin is /dev/null, so `read` fails at once and the script exits 3.
  REQUIRE(wait->Read(&ev));
  CHECK(ev.state().phase() == pb::CONTAINER_PHASE_RUNNING);
  REQUIRE(wait->Read(&ev));
  CHECK(ev.state().phase() == pb::CONTAINER_PHASE_EXITED);
  CHECK(ev.state().exit_code() == 3);
  REQUIRE(wait->Read(&ev));
  REQUIRE(ev.has_outcome());
  CHECK(ev.outcome().exit_code() == 3);
  CHECK(ev.outcome().reason() == pb::WAIT_REASON_EXITED);
  CHECK_FALSE(ev.outcome().has_signal());
  CHECK(ev.outcome().has_finished_at());
  CHECK_FALSE(wait->Read(&ev));
  CHECK(wait->Finish().ok());

  auto logs = env.Logs(id);
  REQUIRE(logs.size() == 1);
  CHECK(logs[0].message() == "started");
  CHECK(logs[0].service() == "life");
  CHECK(logs[0].deployment() == "tests");
  CHECK(logs[0].source().name() == "life-rep-1");

  SECTION("a waiter that comes after the exit gets the outcome at once") {
    auto outcome = env.WaitOutcome(id, absl::Seconds(5));
    CHECK(outcome.exit_code() == 3);
  }
  SECTION("remove cleans up") {
    env.Remove(id, false);
    pb::GetContainerStateRequest req;
    *req.mutable_id() = id;
    pb::GetContainerStateResponse resp;
    CHECK(env.stub().GetContainerState(Ctx().get(), req, &resp).error_code() ==
          grpc::StatusCode::NOT_FOUND);
  }
}

TEST_CASE("kill -9 is reported as signal SIGKILL, 137", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  const auto id = env.Create("killed", 1, env.Shell("sleep 600"));
  env.Start(id);
  CHECK(env.State(id).phase() == pb::CONTAINER_PHASE_RUNNING);
  pb::KillContainerRequest req;
  *req.mutable_id() = id;
  req.set_signal("kill");
  pb::KillContainerResponse resp;
  REQUIRE(env.stub().KillContainer(Ctx().get(), req, &resp).ok());
  auto outcome = env.WaitOutcome(id);
  CHECK(outcome.exit_code() == 137);
  CHECK(outcome.reason() == pb::WAIT_REASON_SIGNAL);
  CHECK(outcome.signal() == "SIGKILL");
}

TEST_CASE("a container over its memory limit is reported oom_killed", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  auto spec = env.Shell("exec /bin/hog mem 256");
  spec.mutable_resources()->set_memory_bytes(32ull << 20);
  const auto id = env.Create("oom", 1, spec);
  env.Start(id);
  auto outcome = env.WaitOutcome(id);
  CHECK(outcome.reason() == pb::WAIT_REASON_OOM_KILLED);
  CHECK(outcome.exit_code() == 137);
  CHECK(outcome.signal() == "SIGKILL");
}

TEST_CASE("stop sends SIGTERM, waits, then escalates to SIGKILL", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  SECTION("a process that exits on SIGTERM") {
    const auto id = env.Create("graceful", 1,
                               env.Shell("trap 'echo got TERM; exit 0' TERM; "
                                         "while true; do sleep 0.05; done"));
    env.Start(id);
    pb::StopContainerRequest req;
    *req.mutable_id() = id;
    req.mutable_timeout()->set_seconds(20);
    pb::StopContainerResponse resp;
    const absl::Time start = absl::Now();
    REQUIRE(env.stub().StopContainer(Ctx(absl::Seconds(60)).get(), req, &resp).ok());
    CHECK(absl::Now() - start < absl::Seconds(15));
    auto outcome = env.WaitOutcome(id);
    CHECK(outcome.reason() == pb::WAIT_REASON_EXITED);
    CHECK(outcome.exit_code() == 0);
    auto logs = env.Logs(id);
    REQUIRE_FALSE(logs.empty());
    CHECK(logs.back().message() == "got TERM");
  }
  SECTION("a process that ignores SIGTERM is killed after the timeout") {
    // As PID 1 without a handler, sleep ignores SIGTERM.
    const auto id = env.Create("stubborn", 1, env.Shell("exec sleep 600"));
    env.Start(id);
    pb::WaitRequest wreq;
    *wreq.mutable_id() = id;
    auto ctx = Ctx(absl::Seconds(60));
    auto wait = env.stub().Wait(ctx.get(), wreq);
    pb::WaitEvent ev;
    REQUIRE(wait->Read(&ev));
    CHECK(ev.state().phase() == pb::CONTAINER_PHASE_RUNNING);
    pb::StopContainerRequest req;
    *req.mutable_id() = id;
    req.mutable_timeout()->set_nanos(300'000'000);
    pb::StopContainerResponse resp;
    REQUIRE(env.stub().StopContainer(Ctx(absl::Seconds(60)).get(), req, &resp).ok());
    std::vector<pb::WaitEvent> events;
    while (wait->Read(&ev)) events.push_back(ev);
    REQUIRE(wait->Finish().ok());
    REQUIRE(events.size() == 3);
    CHECK(events[0].state().phase() == pb::CONTAINER_PHASE_STOPPING);
    CHECK(events[1].state().phase() == pb::CONTAINER_PHASE_EXITED);
    CHECK(events[2].outcome().reason() == pb::WAIT_REASON_SIGNAL);
    CHECK(events[2].outcome().signal() == "SIGKILL");
    CHECK(events[2].outcome().exit_code() == 137);
  }
  SECTION("the spec's stop signal is used") {
    auto spec = env.Shell("trap 'echo got USR1; exit 7' USR1; while true; do sleep 0.05; done");
    spec.set_stop_signal("SIGUSR1");
    const auto id = env.Create("custom-stop", 1, spec);
    env.Start(id);
    pb::StopContainerRequest req;
    *req.mutable_id() = id;
    pb::StopContainerResponse resp;
    REQUIRE(env.stub().StopContainer(Ctx(absl::Seconds(60)).get(), req, &resp).ok());
    CHECK(env.WaitOutcome(id).exit_code() == 7);
  }
}

TEST_CASE("remove leaves no cgroup and no runtime state behind", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  // A second process in the container: it dies with the pid namespace, a moment
  // after the init, and the cgroups can only go once it has.
  const auto id = env.Create("tidy", 1, env.Shell("sleep 600 & exec sleep 600"));
  env.Start(id);
  const pb::ContainerInfo info = env.Inspect(id);
  const std::string cgroups_path = info.annotations().at("cgroups_path");
  auto text = zlayer::base::ReadFile("/proc/" + std::to_string(info.pid()) + "/cgroup");
  REQUIRE(text.ok());
  struct stat st;
  const bool hybrid = ::stat("/sys/fs/cgroup/unified", &st) == 0;
  std::vector<std::string> dirs;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    // "ID:controllers:path"
    std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits(':', 2));
    REQUIRE(f.size() == 3);
    if (!absl::StrContains(f[2], cgroups_path)) continue;
    std::string mount = "/sys/fs/cgroup";
    if (f[1].empty()) {
      if (hybrid) mount += "/unified";
    } else {
      mount += "/" + (absl::StartsWith(f[1], "name=") ? f[1].substr(5) : f[1]);
    }
    dirs.push_back(mount + f[2]);
  }
  const std::string runtime_state = env.root() + "/run/runtime/" + info.name();
  INFO("cgroups:\n" << *text << "runtime state: " << runtime_state);
  REQUIRE_FALSE(dirs.empty());
  for (const auto& d : dirs) REQUIRE(::stat(d.c_str(), &st) == 0);
  REQUIRE(::stat(runtime_state.c_str(), &st) == 0);

  pb::KillContainerRequest kill;
  *kill.mutable_id() = id;
  kill.set_signal("SIGKILL");
  pb::KillContainerResponse killed;
  REQUIRE(env.stub().KillContainer(Ctx().get(), kill, &killed).ok());
  CHECK(env.WaitOutcome(id).signal() == "SIGKILL");
  env.Remove(id, false);
  for (const auto& d : dirs) {
    INFO(d);
    CHECK(::stat(d.c_str(), &st) != 0);
  }
  CHECK(::stat(runtime_state.c_str(), &st) != 0);
}

TEST_CASE("a runtime failure at start is runtime_error with the runtime's words",
          "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  pb::ServiceSpec spec;
  spec.mutable_image()->set_name(env.image());
  spec.mutable_command()->add_entrypoint("/no/such/binary");
  const auto id = env.Create("broken", 1, spec);
  pb::StartContainerRequest req;
  *req.mutable_id() = id;
  pb::StartContainerResponse resp;
  auto s = env.stub().StartContainer(Ctx(absl::Seconds(60)).get(), req, &resp);
  CHECK(s.error_code() == grpc::StatusCode::INTERNAL);
  CHECK(s.error_message().find("/no/such/binary") != std::string::npos);
  auto state = env.State(id);
  CHECK(state.phase() == pb::CONTAINER_PHASE_FAILED);
  auto outcome = env.WaitOutcome(id);
  CHECK(outcome.reason() == pb::WAIT_REASON_RUNTIME_ERROR);
  CHECK(outcome.exit_code() == 127);
  CHECK(outcome.message().find("no such file") != std::string::npos);
}

TEST_CASE("wrong-state and bad-input errors", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  const auto id = env.Create("states", 1, env.Shell("sleep 600"));
  SECTION("exec before start is FAILED_PRECONDITION") {
    pb::ExecRequest req;
    *req.mutable_id() = id;
    req.add_command("true");
    pb::ExecResponse resp;
    CHECK(env.stub().Exec(Ctx().get(), req, &resp).error_code() ==
          grpc::StatusCode::FAILED_PRECONDITION);
  }
  SECTION("remove of a running container needs force") {
    env.Start(id);
    pb::RemoveContainerRequest req;
    *req.mutable_id() = id;
    pb::RemoveContainerResponse resp;
    auto s = env.stub().RemoveContainer(Ctx().get(), req, &resp);
    CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
    CHECK(env.State(id).phase() == pb::CONTAINER_PHASE_RUNNING);
    env.Remove(id, true);
  }
  SECTION("start twice is FAILED_PRECONDITION") {
    env.Start(id);
    pb::StartContainerRequest req;
    *req.mutable_id() = id;
    pb::StartContainerResponse resp;
    CHECK(env.stub().StartContainer(Ctx().get(), req, &resp).error_code() ==
          grpc::StatusCode::FAILED_PRECONDITION);
  }
  SECTION("a spec the backend cannot honour is INVALID_ARGUMENT") {
    auto spec = env.Shell("true");
    spec.mutable_resources()->set_memory_bytes(1024);
    pb::CreateContainerRequest req;
    req.mutable_id()->set_service("bad");
    req.mutable_id()->set_replica(1);
    *req.mutable_spec() = spec;
    pb::CreateContainerResponse resp;
    auto s = env.stub().CreateContainer(Ctx().get(), req, &resp);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(s.error_message().find("memory") != std::string::npos);
    spec = env.Shell("true");
    spec.add_capabilities("CAP_NOT_A_THING");
    *req.mutable_spec() = spec;
    CHECK(env.stub().CreateContainer(Ctx().get(), req, &resp).error_code() ==
          grpc::StatusCode::INVALID_ARGUMENT);
    spec = env.Shell("true");
    spec.set_user("nosuchuser");
    *req.mutable_spec() = spec;
    s = env.stub().CreateContainer(Ctx().get(), req, &resp);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(s.error_message().find("nosuchuser") != std::string::npos);
  }
  SECTION("an image that is absent with pull policy never") {
    auto spec = env.Shell("true");
    spec.mutable_image()->set_name(env.image() + "-missing");
    spec.mutable_image()->set_pull_policy(pb::PULL_POLICY_NEVER);
    pb::CreateContainerRequest req;
    req.mutable_id()->set_service("noimage");
    req.mutable_id()->set_replica(1);
    *req.mutable_spec() = spec;
    pb::CreateContainerResponse resp;
    CHECK(env.stub().CreateContainer(Ctx().get(), req, &resp).error_code() ==
          grpc::StatusCode::FAILED_PRECONDITION);
  }
}

TEST_CASE("many containers at once", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  constexpr int kCount = 12;
  std::vector<pb::ContainerId> ids;
  for (int i = 1; i <= kCount; ++i) {
    ids.push_back(env.Create("many", i, env.Shell("echo replica $HOSTNAME; exit " + std::to_string(i))));
  }
  for (const auto& id : ids) env.Start(id);
  for (int i = 0; i < kCount; ++i) {
    CHECK(env.WaitOutcome(ids[i]).exit_code() == i + 1);
    auto logs = env.Logs(ids[i]);
    REQUIRE(logs.size() == 1);
    CHECK(logs[0].message() == "replica many-rep-" + std::to_string(i + 1));
  }
  pb::ListContainersRequest req;
  req.set_service("many");
  pb::ListContainersResponse resp;
  REQUIRE(env.stub().ListContainers(Ctx().get(), req, &resp).ok());
  CHECK(resp.containers_size() == kCount);
}

TEST_CASE("containers and monitors sit under the cgroup parent, not in the agent's cgroup",
          "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  const auto id = env.Create("placed", 1, env.Shell("sleep 600"));
  env.Start(id);
  const pb::ContainerInfo info = env.Inspect(id);
  const std::string parent = info.annotations().at("cgroups_path");  // <parent>/<name>
  const std::string parent_dir = parent.substr(0, parent.rfind('/'));
  auto cgroup_of = [](long pid) {
    auto text = zlayer::base::ReadFile("/proc/" + std::to_string(pid) + "/cgroup");
    REQUIRE(text.ok());
    return *text;
  };
  const std::string agent = cgroup_of(env.agent().pid());
  const std::string init = cgroup_of(info.pid());
  const std::string monitor = cgroup_of(std::stol(info.annotations().at("monitor_pid")));
  INFO("agent:\n" << agent << "init:\n" << init << "monitor:\n" << monitor);
  // Every hierarchy line of the container and its monitor names the parent.
  for (absl::string_view line : absl::StrSplit(init, '\n', absl::SkipEmpty())) {
    if (absl::StrContains(line, "name=")) continue;  // named hierarchies are not set by runc
    if (absl::EndsWith(line, ":/")) continue;        // a hierarchy runc does not use here
    CHECK(absl::StrContains(line, parent));
  }
  for (absl::string_view line : absl::StrSplit(monitor, '\n', absl::SkipEmpty())) {
    if (absl::StrContains(line, "name=") || absl::EndsWith(line, ":/")) continue;
    CHECK(absl::StrContains(line, parent_dir + "/monitors"));
  }
  CHECK(monitor != agent);
}

TEST_CASE("without a usable runtime the agent refuses to start and says why", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  auto dir = MakeTempDir();
  zlayer::base::RunOptions run;
  run.argv = {ZLAYER_AGENTD_BIN, "--backend", "oci", "--runtime", "/nonexistent/runc",
              "--socket", dir.path() + "/a.sock", "--data-dir", dir.path() + "/data",
              "--run-dir", dir.path() + "/run"};
  run.timeout = absl::Seconds(60);
  auto r = zlayer::base::RunCommand(run);
  REQUIRE(r.ok());
  CHECK(r->status.code == 1);
  CHECK(r->err.find("no usable OCI runtime") != std::string::npos);
  CHECK(r->err.find("/nonexistent/runc: not installed") != std::string::npos);
  SECTION("a runtime that is installed but cannot run containers here is named with its error") {
    if (!zlayer::base::FindExecutable("crun").ok()) return;
    run.argv[4] = "crun";
    run.timeout = absl::Seconds(20);
    r = zlayer::base::RunCommand(run);
    // Where crun works, the agent starts and runs until the timeout kills it; where
    // it cannot (hybrid cgroups, as on these machines), the error names crun's reason.
    if (r.ok()) {
      CHECK(r->status.code == 1);
      CHECK(r->err.find("crun: cannot run containers here") != std::string::npos);
    } else {
      CHECK(r.status().code() == absl::StatusCode::kDeadlineExceeded);
    }
  }
}
