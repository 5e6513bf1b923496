// The mock backend keeps the reference mock's behaviour (see the contract's tests).
#include <catch2/catch.hpp>

#include "absl/time/clock.h"
#include "runtimes/mock/mock_runtime.h"

using namespace zlayer::core;
using namespace zlayer::runtimes;

namespace {
ServiceSpec Spec() {
  ServiceSpec s;
  s.image.name = "test:latest";
  s.endpoints.push_back({"http", EndpointProtocol::kHttp, 8080, 0});
  return s;
}
}  // namespace

TEST_CASE("mock: pull, create, start gives Running", "[unit]") {
  MockRuntime rt;
  const ContainerId id{"test", 1};
  REQUIRE(rt.PullImage({"test:latest"}, nullptr).ok());
  REQUIRE(rt.CreateContainer(id, Spec(), "dep").ok());
  CHECK(*rt.GetContainerState(id) == ContainerState::Pending());
  REQUIRE(rt.StartContainer(id).ok());
  CHECK(*rt.GetContainerState(id) == ContainerState::Running());
  CHECK(rt.GetContainerPid(id)->value() == static_cast<uint32_t>(::getpid()));
  CHECK(**rt.GetContainerIp(id) == "172.17.0.3");
  CHECK_FALSE(rt.GetContainerPortOverride(id)->has_value());
}

TEST_CASE("mock: kill defaults to SIGKILL and exits 137", "[unit]") {
  MockRuntime rt;
  const ContainerId id{"kill-me", 0};
  REQUIRE(rt.CreateContainer(id, Spec(), "").ok());
  REQUIRE(rt.StartContainer(id).ok());
  REQUIRE(rt.KillContainer(id, std::nullopt).ok());
  CHECK(*rt.GetContainerState(id) == ContainerState::Exited(137));
}

TEST_CASE("mock: kill rejects a bogus signal as INVALID_ARGUMENT", "[unit]") {
  MockRuntime rt;
  const ContainerId id{"kill-me", 0};
  REQUIRE(rt.CreateContainer(id, Spec(), "").ok());
  REQUIRE(rt.StartContainer(id).ok());
  CHECK(rt.KillContainer(id, "SIGFOO").code() == absl::StatusCode::kInvalidArgument);
  CHECK(*rt.GetContainerState(id) == ContainerState::Running());
}

TEST_CASE("mock: the default wait outcome wraps wait_container", "[unit]") {
  MockRuntime rt;
  const ContainerId id{"wait-test", 0};
  REQUIRE(rt.CreateContainer(id, Spec(), "").ok());
  REQUIRE(rt.StartContainer(id).ok());
  auto outcome = rt.WaitOutcomeOf(id);
  REQUIRE(outcome.ok());
  CHECK(outcome->exit_code == 0);
  CHECK(outcome->reason == WaitReason::kExited);
  CHECK_FALSE(outcome->signal.has_value());
  CHECK_FALSE(outcome->finished_at.has_value());
  SECTION("an exited container reports its code at once") {
    REQUIRE(rt.KillContainer(id, "TERM").ok());
    CHECK(*rt.WaitContainer(id) == 137);
  }
}

TEST_CASE("mock: logs, exec and stats follow the reference mock", "[unit]") {
  MockRuntime rt;
  const ContainerId id{"web", 2};
  REQUIRE(rt.CreateContainer(id, Spec(), "").ok());
  CHECK(rt.ContainerLogs(id, 0)->empty());
  CHECK(rt.ContainerLogs(id, 1)->size() == 1);
  CHECK(rt.ContainerLogs(id, 1)->at(0).message == "mock error line");
  CHECK(rt.ContainerLogs(id, 10)->size() == 2);
  auto all = rt.GetLogs(id);
  REQUIRE(all->size() == 3);
  CHECK(all->at(0).message == "[web-rep-2] Container started");
  CHECK(all->at(0).source.name == "web-rep-2");
  CHECK(rt.Exec({id, {"echo", "hi"}}).status().code() == absl::StatusCode::kFailedPrecondition);
  REQUIRE(rt.StartContainer(id).ok());
  auto exec = rt.Exec({id, {"echo", "hi"}});
  REQUIRE(exec.ok());
  CHECK(exec->exit_code == 0);
  CHECK(exec->stdout_data == "echo hi");
  CHECK(exec->stderr_data.empty());
  auto stats = rt.GetContainerStats(id);
  CHECK(stats->cgroup.cpu_usage_usec == 1'000'000);
  CHECK(stats->cgroup.memory_bytes == 50u * 1024 * 1024);
  CHECK(stats->cgroup.memory_limit == 256u * 1024 * 1024);
}

TEST_CASE("mock: the default exec stream is built from buffered exec", "[unit]") {
  MockRuntime rt;
  const ContainerId id{"web", 1};
  REQUIRE(rt.CreateContainer(id, Spec(), "").ok());
  REQUIRE(rt.StartContainer(id).ok());
  std::vector<ExecEvent> events;
  auto sub = rt.ExecStream({id, {"a", "b"}}, [&](ExecEvent e) { events.push_back(e); });
  REQUIRE(sub.ok());
  REQUIRE(events.size() == 2);
  CHECK(events[0].kind == ExecEvent::Kind::kStdout);
  CHECK(events[0].data == "a b");
  CHECK(events[1].kind == ExecEvent::Kind::kExit);
  CHECK(events[1].exit_code == 0);
}

TEST_CASE("mock: unknown ids are NOT_FOUND, duplicates ALREADY_EXISTS", "[unit]") {
  MockRuntime rt;
  const ContainerId id{"ghost", 1};
  CHECK(rt.GetContainerState(id).status().code() == absl::StatusCode::kNotFound);
  CHECK(rt.StartContainer(id).code() == absl::StatusCode::kNotFound);
  CHECK(rt.StopContainer(id, std::nullopt).code() == absl::StatusCode::kNotFound);
  CHECK(rt.RemoveContainer(id, false).code() == absl::StatusCode::kNotFound);
  CHECK(rt.GetContainerStats(id).status().code() == absl::StatusCode::kNotFound);
  CHECK(rt.WaitContainer(id).status().code() == absl::StatusCode::kNotFound);
  CHECK(rt.GetLogs(id).status().code() == absl::StatusCode::kNotFound);
  REQUIRE(rt.CreateContainer(id, Spec(), "").ok());
  CHECK(rt.CreateContainer(id, Spec(), "").code() == absl::StatusCode::kAlreadyExists);
}

TEST_CASE("mock: optional image operations succeed as in the reference mock", "[unit]") {
  MockRuntime rt;
  CHECK(rt.ListImages()->empty());
  CHECK(rt.RemoveImage("x", false).ok());
  CHECK(rt.PruneImages()->deleted.empty());
  CHECK(rt.TagImage("a", "b:c").ok());
  CHECK(rt.ImportImage("x", -1).status().code() == absl::StatusCode::kUnimplemented);
  CHECK(rt.SyncContainerVolumes({"x", 1}).ok());
}
