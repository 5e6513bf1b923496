// The Events stream against real containers: order and outcomes, OOM, exactly
// once across agent kills, resume points that are no longer kept.
#include <catch2/catch.hpp>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/fs_util.h"
#include "oci_env.h"
#include "support/test_support.h"

using namespace zlayer::testing;

namespace {

// Reads Events from `since` until `done` says so or `timeout` passes; returns what
// arrived (the stream is cancelled then).
std::vector<pb::Event> ReadEvents(pb::RuntimeService::Stub& stub, pb::EventsRequest request,
                                  const std::function<bool(const std::vector<pb::Event>&)>& done,
                                  absl::Duration timeout = absl::Seconds(30)) {
  auto ctx = Ctx(timeout);
  auto reader = stub.Events(ctx.get(), request);
  std::vector<pb::Event> events;
  pb::Event event;
  while (!done(events) && reader->Read(&event)) events.push_back(event);
  ctx->TryCancel();
  (void)reader->Finish();
  return events;
}

pb::EventsRequest Since(uint64_t sequence, const std::string& service = "") {
  pb::EventsRequest request;
  request.set_since_sequence(sequence);
  request.set_service(service);
  return request;
}

bool HasKind(const std::vector<pb::Event>& events, pb::EventKind kind, int count = 1) {
  return std::count_if(events.begin(), events.end(),
                       [&](const pb::Event& e) { return e.kind() == kind; }) >= count;
}

}  // namespace

TEST_CASE("events: create, start, exit with its outcome, remove, in order", "[root][oci][events]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  const auto id = env.Create("ev", 1, env.Shell("exit 3"));
  env.Start(id);
  CHECK(env.WaitOutcome(id).exit_code() == 3);
  env.Remove(id);

  auto events = ReadEvents(env.stub(), Since(0, "ev"), [](const auto& got) {
    return HasKind(got, pb::EVENT_KIND_CONTAINER_REMOVED);
  });
  std::vector<pb::EventKind> kinds;
  for (const auto& e : events) kinds.push_back(e.kind());
  REQUIRE(kinds == std::vector<pb::EventKind>{
                       pb::EVENT_KIND_CONTAINER_CREATED, pb::EVENT_KIND_CONTAINER_STARTED,
                       pb::EVENT_KIND_CONTAINER_EXITED, pb::EVENT_KIND_CONTAINER_REMOVED});
  for (size_t i = 1; i < events.size(); ++i) {
    CHECK(events[i].sequence() > events[i - 1].sequence());
  }
  const auto& exited = events[2];
  CHECK(exited.container().service() == "ev");
  CHECK(exited.container().replica() == 1);
  CHECK(exited.outcome().exit_code() == 3);
  CHECK(exited.outcome().reason() == pb::WAIT_REASON_EXITED);
  CHECK(exited.state().phase() == pb::CONTAINER_PHASE_EXITED);
  CHECK(absl::StrContains(events[0].image(), "busybox"));

  // The agent's own events carry no container, and a container filter leaves them out.
  auto all = ReadEvents(env.stub(), Since(0), [](const auto& got) {
    return HasKind(got, pb::EVENT_KIND_CONTAINER_REMOVED);
  });
  REQUIRE_FALSE(all.empty());
  CHECK(all[0].kind() == pb::EVENT_KIND_AGENT_STARTED);
  CHECK(HasKind(all, pb::EVENT_KIND_AGENT_RECOVERED));
}

TEST_CASE("events: an OOM kill is reported before the exit", "[root][oci][events]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  auto spec = env.Shell("exec /bin/hog mem 256");
  spec.mutable_resources()->set_memory_bytes(32ull << 20);
  const auto id = env.Create("evoom", 1, spec);
  env.Start(id);
  CHECK(env.WaitOutcome(id).reason() == pb::WAIT_REASON_OOM_KILLED);
  auto events = ReadEvents(env.stub(), Since(0, "evoom"), [](const auto& got) {
    return HasKind(got, pb::EVENT_KIND_CONTAINER_EXITED);
  });
  REQUIRE(events.size() == 4);
  CHECK(events[2].kind() == pb::EVENT_KIND_CONTAINER_OOM);
  CHECK(events[2].outcome().reason() == pb::WAIT_REASON_OOM_KILLED);
  CHECK(events[3].kind() == pb::EVENT_KIND_CONTAINER_EXITED);
  CHECK(events[3].outcome().exit_code() == 137);
}

TEST_CASE("events: exits while the agent is killed are resumed exactly once, in order",
          "[root][oci][events]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  constexpr int kRounds = 20;
  uint64_t last = 0;  // the client's resume point
  std::map<uint32_t, int> exits;
  int gaps = 0, duplicates = 0;
  for (int round = 1; round <= kRounds; ++round) {
    const auto id = env.Create("evkill", static_cast<uint32_t>(round),
                               env.Shell(absl::StrCat("sleep 0.2; exit ", round % 5 + 1)));
    env.Start(id);
    // Killed while the container is about to exit; it exits with no agent.
    env.RestartAgent(/*crash=*/true);
    CHECK(env.WaitOutcome(id).exit_code() == round % 5 + 1);
    env.Remove(id);
    // The client reconnects and resumes from what it last saw.
    auto events = ReadEvents(env.stub(), Since(last), [&](const auto& got) {
      return !got.empty() && got.back().kind() == pb::EVENT_KIND_CONTAINER_REMOVED &&
             got.back().container().replica() == static_cast<uint32_t>(round);
    });
    for (const auto& e : events) {
      if (e.sequence() <= last) ++duplicates;
      if (e.sequence() > last + 1) ++gaps;
      last = std::max(last, e.sequence());
      if (e.kind() == pb::EVENT_KIND_CONTAINER_EXITED) {
        ++exits[e.container().replica()];
        CHECK(e.outcome().exit_code() == static_cast<int>(e.container().replica() % 5 + 1));
      }
    }
  }
  int twice = 0, missed = 0;
  for (int round = 1; round <= kRounds; ++round) {
    const int n = exits[static_cast<uint32_t>(round)];
    if (n == 0) ++missed;
    if (n > 1) ++twice;
  }
  std::printf(
      "events across %d agent kills: gaps=%d duplicates=%d exits_missed=%d "
      "exits_twice=%d\n",
      kRounds, gaps, duplicates, missed, twice);
  CHECK(gaps == 0);
  CHECK(duplicates == 0);
  CHECK(missed == 0);
  CHECK(twice == 0);
}

TEST_CASE("events: a resume point no longer kept is OUT_OF_RANGE naming the oldest",
          "[root][oci][events]") {
  SKIP_UNLESS_CONTAINERS();
  auto dir = MakeTempDir("zt-events-");
  const std::string config = dir.path() + "/agentd.yaml";
  REQUIRE(zlayer::base::WriteFileAtomic(config, "events:\n  max_events: 10\n", 0644).ok());
  OciEnv env({"--config", config});
  // The journal prunes every 64 appends: four events per container.
  for (uint32_t replica = 1; replica <= 17; ++replica) {
    const auto id = env.Create("evprune", replica, env.Shell("true"));
    env.Start(id);
    (void)env.WaitOutcome(id);
    env.Remove(id);
  }
  auto ctx = Ctx(absl::Seconds(10));
  auto reader = env.stub().Events(ctx.get(), Since(1));
  pb::Event event;
  CHECK_FALSE(reader->Read(&event));
  const auto status = reader->Finish();
  CHECK(status.error_code() == grpc::StatusCode::OUT_OF_RANGE);
  INFO(status.error_message());
  CHECK(absl::StrContains(status.error_message(), "the oldest kept is"));

  // The newest events are still there to resume from.
  auto recent = ReadEvents(
      env.stub(), Since(60), [](const auto& got) { return got.size() >= 3; }, absl::Seconds(10));
  CHECK(recent.size() >= 3);
}

TEST_CASE("events: health changes, execs (not health probes) and image changes are reported",
          "[root][oci][events]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  auto spec = env.Shell("sleep 600");
  auto* health = spec.mutable_health();
  health->mutable_interval()->set_nanos(150'000'000);
  health->mutable_timeout()->set_seconds(2);
  health->set_retries(1);
  for (const char* arg : {"test", "-e", "/tmp/healthy"})
    health->mutable_command()->add_command(arg);
  const auto id = env.Create("evx", 1, spec);
  env.Start(id);
  auto unhealthy = ReadEvents(env.stub(), Since(0, "evx"), [](const auto& got) {
    return HasKind(got, pb::EVENT_KIND_CONTAINER_HEALTH);
  });
  REQUIRE(HasKind(unhealthy, pb::EVENT_KIND_CONTAINER_HEALTH));
  CHECK(absl::StartsWith(unhealthy.back().message(), "unhealthy"));
  CHECK(env.Exec(id, {"sh", "-c", "exit 4"}).exit_code() == 4);
  env.Exec(id, {"touch", "/tmp/healthy"});
  auto container_events = ReadEvents(env.stub(), Since(0, "evx"), [](const auto& got) {
    return HasKind(got, pb::EVENT_KIND_CONTAINER_HEALTH, 2);
  });
  REQUIRE(HasKind(container_events, pb::EVENT_KIND_CONTAINER_HEALTH, 2));
  CHECK(absl::StartsWith(container_events.back().message(), "healthy"));
  // More probes run meanwhile; only the two API execs are events.
  absl::SleepFor(absl::Milliseconds(600));
  container_events = ReadEvents(env.stub(), Since(0, "evx"), [](const auto& got) {
    return HasKind(got, pb::EVENT_KIND_EXEC_EXITED, 2);
  });
  std::vector<pb::Event> execs;
  for (const auto& e : container_events) {
    if (e.kind() == pb::EVENT_KIND_EXEC_STARTED || e.kind() == pb::EVENT_KIND_EXEC_EXITED) {
      execs.push_back(e);
    }
  }
  REQUIRE(execs.size() == 4);
  CHECK(execs[0].kind() == pb::EVENT_KIND_EXEC_STARTED);
  CHECK(execs[0].message() == "sh -c exit 4");
  CHECK(execs[1].kind() == pb::EVENT_KIND_EXEC_EXITED);
  CHECK(execs[1].outcome().exit_code() == 4);
  CHECK(execs[3].message() == "touch /tmp/healthy");
  CHECK(execs[3].outcome().exit_code() == 0);
  CHECK(execs[3].container().service() == "evx");
  CHECK(execs[3].deployment() == "tests");

  // Images: the create pulled it; then a tag, two removals (the container still
  // holds the content) and a prune once the container is gone.
  const std::string copy = env.registry().host() + "/test/copy:v1";
  pb::TagImageRequest tag;
  tag.set_source(env.image());
  tag.set_target(copy);
  pb::TagImageResponse tagged;
  REQUIRE(env.stub().TagImage(Ctx().get(), tag, &tagged).ok());
  for (const auto& image : {copy, env.image()}) {
    pb::RemoveImageRequest remove;
    remove.set_image(image);
    remove.set_force(true);
    pb::RemoveImageResponse removed;
    REQUIRE(env.stub().RemoveImage(Ctx().get(), remove, &removed).ok());
  }
  env.Remove(id);
  pb::PruneImagesResponse pruned;
  REQUIRE(env.stub().PruneImages(Ctx().get(), {}, &pruned).ok());
  REQUIRE(pruned.deleted_size() == 1);

  pb::EventsRequest images = Since(0);
  for (auto kind : {pb::EVENT_KIND_IMAGE_PULLED, pb::EVENT_KIND_IMAGE_TAGGED,
                    pb::EVENT_KIND_IMAGE_REMOVED, pb::EVENT_KIND_IMAGE_PRUNED}) {
    images.add_kinds(kind);
  }
  auto image_events = ReadEvents(env.stub(), images, [](const auto& got) {
    return HasKind(got, pb::EVENT_KIND_IMAGE_PRUNED);
  });
  std::vector<pb::EventKind> kinds;
  for (const auto& e : image_events) kinds.push_back(e.kind());
  REQUIRE(kinds ==
          std::vector<pb::EventKind>{pb::EVENT_KIND_IMAGE_PULLED, pb::EVENT_KIND_IMAGE_TAGGED,
                                     pb::EVENT_KIND_IMAGE_REMOVED, pb::EVENT_KIND_IMAGE_REMOVED,
                                     pb::EVENT_KIND_IMAGE_PRUNED});
  CHECK(absl::StrContains(image_events[0].image(), "test/busybox"));
  CHECK(absl::StartsWith(image_events[0].message(), "sha256:"));
  CHECK(absl::StrContains(image_events[1].image(), "test/copy:v1"));
  CHECK(absl::StrContains(image_events[2].image(), "test/copy:v1"));
  CHECK(absl::StrContains(image_events[4].message(), "deleted 1"));
}
