#include <catch2/catch.hpp>

#include <vector>

#include "runtimes/state_bus.h"

using namespace zlayer::core;
using namespace zlayer::runtimes;

TEST_CASE("StateBus replays the current state, then delivers changes", "[unit]") {
  StateBus bus;
  const ContainerId id{"web", 1};
  CHECK(bus.Subscribe(id, [](const WatchEvent&) {}).status().code() ==
        absl::StatusCode::kNotFound);
  bus.Publish(id, ContainerState::Pending());
  bus.Publish(id, ContainerState::Running());
  std::vector<WatchEvent> seen;
  auto sub = bus.Subscribe(id, [&](const WatchEvent& e) { seen.push_back(e); });
  REQUIRE(sub.ok());
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].state == ContainerState::Running());
  SECTION("the same state twice is delivered once") {
    bus.Publish(id, ContainerState::Running());
    CHECK(seen.size() == 1);
  }
  SECTION("the outcome ends it") {
    bus.Publish(id, ContainerState::Stopping());
    bus.Publish(id, ContainerState::Exited(3), WaitOutcome::Exited(3));
    REQUIRE(seen.size() == 3);
    CHECK(seen[2].outcome->exit_code == 3);
    CHECK(seen[2].IsLast());
  }
  SECTION("a late subscriber sees the state and then the outcome") {
    bus.Publish(id, ContainerState::Exited(7), WaitOutcome::Exited(7));
    std::vector<WatchEvent> late;
    auto sub2 = bus.Subscribe(id, [&](const WatchEvent& e) { late.push_back(e); });
    REQUIRE(late.size() == 2);
    CHECK_FALSE(late[0].outcome.has_value());
    CHECK(late[0].state == ContainerState::Exited(7));
    CHECK(late[1].outcome->exit_code == 7);
  }
  SECTION("removal ends watchers with the reason") {
    bus.Remove(id, absl::NotFoundError("removed"));
    REQUIRE(seen.size() == 2);
    CHECK(seen[1].error.code() == absl::StatusCode::kNotFound);
    CHECK(bus.Latest(id).status().code() == absl::StatusCode::kNotFound);
  }
  SECTION("an ended subscription hears nothing more") {
    sub->reset();
    bus.Publish(id, ContainerState::Stopping());
    CHECK(seen.size() == 1);
  }
}
