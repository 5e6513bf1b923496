#include "core/types.h"

#include <catch2/catch.hpp>

using zlayer::core::ContainerId;
using zlayer::core::ContainerState;
using zlayer::core::ParseWaitReason;
using zlayer::core::WaitOutcome;
using zlayer::core::WaitReason;
using zlayer::core::WaitReasonName;

TEST_CASE("ContainerId displays as service-rep-N and parses back", "[unit]") {
  CHECK(ContainerId{"web", 1}.ToString() == "web-rep-1");
  CHECK(ContainerId{"api-gateway", 12}.ToString() == "api-gateway-rep-12");
  SECTION("round trip") {
    for (const ContainerId& id : {ContainerId{"web", 0}, ContainerId{"a-rep-b", 7},
                                  ContainerId{"x.y_z", 4294967295u}}) {
      auto parsed = ContainerId::Parse(id.ToString());
      REQUIRE(parsed.ok());
      CHECK(*parsed == id);
    }
  }
  SECTION("malformed names are INVALID_ARGUMENT with a reason") {
    for (const char* s : {"web", "-rep-1", "web-rep-", "web-rep-x", "web-rep--1", "web-rep-1a",
                          "we b-rep-1", "../x-rep-1", "web-rep-99999999999"}) {
      INFO(s);
      auto parsed = ContainerId::Parse(s);
      REQUIRE_FALSE(parsed.ok());
      CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST_CASE("ValidateContainerId keeps service names safe as file and cgroup names", "[unit]") {
  CHECK(zlayer::core::ValidateContainerId({"web", 1}).ok());
  CHECK(zlayer::core::ValidateContainerId({"Web.1_a-b", 1}).ok());
  for (const char* bad : {"", "/etc", "..", ".hidden", "a/b", "a b", "ä"}) {
    INFO(bad);
    CHECK(zlayer::core::ValidateContainerId({bad, 1}).code() == absl::StatusCode::kInvalidArgument);
  }
  CHECK_FALSE(zlayer::core::ValidateContainerId({std::string(64, 'a'), 1}).ok());
  CHECK(zlayer::core::ValidateContainerId({std::string(63, 'a'), 1}).ok());
}

TEST_CASE("ContainerState has six phases and prints them", "[unit]") {
  CHECK(ContainerState::Pending().ToString() == "pending");
  CHECK(ContainerState::Initializing().ToString() == "initializing");
  CHECK(ContainerState::Running().ToString() == "running");
  CHECK(ContainerState::Stopping().ToString() == "stopping");
  CHECK(ContainerState::Exited(3).ToString() == "exited(3)");
  CHECK(ContainerState::Failed("boom").ToString() == "failed: boom");
  CHECK(ContainerState::Exited(0).IsTerminal());
  CHECK(ContainerState::Failed("x").IsTerminal());
  CHECK_FALSE(ContainerState::Stopping().IsTerminal());
  CHECK(ContainerState::Exited(1) != ContainerState::Exited(2));
}

TEST_CASE("WaitReason serialises as snake_case and round-trips", "[unit]") {
  CHECK(std::string(WaitReasonName(WaitReason::kExited)) == "exited");
  CHECK(std::string(WaitReasonName(WaitReason::kSignal)) == "signal");
  CHECK(std::string(WaitReasonName(WaitReason::kOomKilled)) == "oom_killed");
  CHECK(std::string(WaitReasonName(WaitReason::kRuntimeError)) == "runtime_error");
  for (auto r : {WaitReason::kExited, WaitReason::kSignal, WaitReason::kOomKilled,
                 WaitReason::kRuntimeError}) {
    CHECK(ParseWaitReason(WaitReasonName(r)) == r);
  }
  CHECK_FALSE(ParseWaitReason("OOM").has_value());
}

TEST_CASE("WaitOutcome::Exited is a plain exit without signal or time", "[unit]") {
  const WaitOutcome o = WaitOutcome::Exited(4);
  CHECK(o.exit_code == 4);
  CHECK(o.reason == WaitReason::kExited);
  CHECK_FALSE(o.signal.has_value());
  CHECK_FALSE(o.finished_at.has_value());
}
