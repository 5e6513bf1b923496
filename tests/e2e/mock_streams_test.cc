// The server streams against the mock backend: their ordering rules and how they end.
#include <catch2/catch.hpp>
#include <fstream>
#include <thread>

#include "support/agent_process.h"
#include "support/rpc_builders.h"

using namespace zlayer::testing;
namespace pb = zlayer::agent::v1;

namespace {

constexpr auto& Id = PbContainerId;

template <typename Req, typename Resp>
void Call(grpc::Status (pb::RuntimeService::Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
          pb::RuntimeService::Stub& stub, const Req& req) {
  Resp resp;
  auto s = (stub.*method)(Ctx().get(), req, &resp);
  INFO(s.error_message());
  REQUIRE(s.ok());
}

void Create(pb::RuntimeService::Stub& stub, const pb::ContainerId& id) {
  pb::CreateContainerRequest req;
  *req.mutable_id() = id;
  req.mutable_spec()->mutable_image()->set_name("test:latest");
  Call(&pb::RuntimeService::Stub::CreateContainer, stub, req);
}
void Start(pb::RuntimeService::Stub& stub, const pb::ContainerId& id) {
  pb::StartContainerRequest req;
  *req.mutable_id() = id;
  Call(&pb::RuntimeService::Stub::StartContainer, stub, req);
}
void Stop(pb::RuntimeService::Stub& stub, const pb::ContainerId& id) {
  pb::StopContainerRequest req;
  *req.mutable_id() = id;
  Call(&pb::RuntimeService::Stub::StopContainer, stub, req);
}
void Kill(pb::RuntimeService::Stub& stub, const pb::ContainerId& id) {
  pb::KillContainerRequest req;
  *req.mutable_id() = id;
  Call(&pb::RuntimeService::Stub::KillContainer, stub, req);
}

struct WaitStream {
  std::unique_ptr<grpc::ClientContext> ctx = Ctx(absl::Seconds(20));
  std::unique_ptr<grpc::ClientReader<pb::WaitEvent>> reader;
  WaitStream(pb::RuntimeService::Stub& stub, const pb::ContainerId& id) {
    pb::WaitRequest req;
    *req.mutable_id() = id;
    reader = stub.Wait(ctx.get(), req);
  }
  pb::WaitEvent Next() {
    pb::WaitEvent ev;
    REQUIRE(reader->Read(&ev));
    return ev;
  }
};

}  // namespace

TEST_CASE("Wait: current state, each transition, then the outcome, then close",
          "[integration]") {
  AgentProcess agent;
  auto stub = agent.Stub();
  const auto id = Id("web", 1);
  Create(*stub, id);
  WaitStream wait(*stub, id);
  auto ev = wait.Next();
  REQUIRE(ev.has_state());
  CHECK(ev.state().phase() == pb::CONTAINER_PHASE_PENDING);

  Start(*stub, id);
  ev = wait.Next();
  REQUIRE(ev.has_state());
  CHECK(ev.state().phase() == pb::CONTAINER_PHASE_RUNNING);

  Stop(*stub, id);
  ev = wait.Next();
  CHECK(ev.state().phase() == pb::CONTAINER_PHASE_STOPPING);
  ev = wait.Next();
  CHECK(ev.state().phase() == pb::CONTAINER_PHASE_EXITED);
  CHECK(ev.state().exit_code() == 0);
  ev = wait.Next();
  REQUIRE(ev.has_outcome());
  CHECK(ev.outcome().exit_code() == 0);
  CHECK(ev.outcome().reason() == pb::WAIT_REASON_EXITED);
  CHECK_FALSE(ev.outcome().has_signal());
  CHECK(ev.outcome().has_finished_at());
  pb::WaitEvent extra;
  CHECK_FALSE(wait.reader->Read(&extra));
  CHECK(wait.reader->Finish().ok());
}

TEST_CASE("Wait on a killed container reports the signal", "[integration]") {
  AgentProcess agent;
  auto stub = agent.Stub();
  const auto id = Id("web", 1);
  Create(*stub, id);
  Start(*stub, id);
  Kill(*stub, id);
  WaitStream wait(*stub, id);
  auto ev = wait.Next();
  CHECK(ev.state().phase() == pb::CONTAINER_PHASE_EXITED);
  ev = wait.Next();
  REQUIRE(ev.has_outcome());
  CHECK(ev.outcome().exit_code() == 137);
  CHECK(ev.outcome().reason() == pb::WAIT_REASON_SIGNAL);
  CHECK(ev.outcome().signal() == "SIGKILL");
  pb::WaitEvent extra;
  CHECK_FALSE(wait.reader->Read(&extra));
  CHECK(wait.reader->Finish().ok());
}

TEST_CASE("Wait on a missing container is NOT_FOUND, and removal ends a wait", "[integration]") {
  AgentProcess agent;
  auto stub = agent.Stub();
  {
    WaitStream wait(*stub, Id("ghost", 1));
    pb::WaitEvent ev;
    CHECK_FALSE(wait.reader->Read(&ev));
    CHECK(wait.reader->Finish().error_code() == grpc::StatusCode::NOT_FOUND);
  }
  const auto id = Id("web", 1);
  Create(*stub, id);
  WaitStream wait(*stub, id);
  CHECK(wait.Next().state().phase() == pb::CONTAINER_PHASE_PENDING);
  pb::RemoveContainerRequest req;
  *req.mutable_id() = id;
  Call(&pb::RuntimeService::Stub::RemoveContainer, *stub, req);
  pb::WaitEvent ev;
  CHECK_FALSE(wait.reader->Read(&ev));
  auto s = wait.reader->Finish();
  CHECK(s.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(s.error_message().find("removed") != std::string::npos);
}

TEST_CASE("many waiters on one container all get the outcome", "[integration]") {
  AgentProcess agent;
  auto stub = agent.Stub();
  const auto id = Id("web", 1);
  Create(*stub, id);
  Start(*stub, id);
  std::vector<std::unique_ptr<WaitStream>> waits;
  for (int i = 0; i < 50; ++i) {
    waits.push_back(std::make_unique<WaitStream>(*stub, id));
    REQUIRE(waits.back()->Next().state().phase() == pb::CONTAINER_PHASE_RUNNING);
  }
  Kill(*stub, id);
  for (auto& w : waits) {
    pb::WaitEvent ev;
    int outcomes = 0;
    while (w->reader->Read(&ev)) {
      if (ev.has_outcome()) {
        ++outcomes;
        CHECK(ev.outcome().exit_code() == 137);
      }
    }
    CHECK(outcomes == 1);
    CHECK(w->reader->Finish().ok());
  }
}

TEST_CASE("ContainerLogs: tail, all, and follow until the container stops", "[integration]") {
  AgentProcess agent;
  auto stub = agent.Stub();
  const auto id = Id("web", 1);
  Create(*stub, id);
  auto read_all = [&](uint32_t tail, bool follow) {
    pb::ContainerLogsRequest req;
    *req.mutable_id() = id;
    req.set_tail(tail);
    req.set_follow(follow);
    auto ctx = Ctx();
    auto reader = stub->ContainerLogs(ctx.get(), req);
    std::vector<pb::LogEntry> out;
    pb::LogEntry e;
    while (reader->Read(&e)) out.push_back(e);
    REQUIRE(reader->Finish().ok());
    return out;
  };
  SECTION("tail 0 means all") {
    auto all = read_all(0, false);
    REQUIRE(all.size() == 3);
    CHECK(all[0].message() == "[web-rep-1] Container started");
    CHECK(all[2].message() == "[web-rep-1] Command completed successfully");
    CHECK(all[0].source().name() == "web-rep-1");
    CHECK(all[0].source().kind() == pb::LogSource::KIND_CONTAINER);
    CHECK(all[0].stream() == pb::LOG_STREAM_STDOUT);
    CHECK(all[0].has_timestamp());
  }
  SECTION("tail N gives the last N") {
    auto last = read_all(1, false);
    REQUIRE(last.size() == 1);
    CHECK(last[0].message() == "mock error line");
    CHECK(last[0].stream() == pb::LOG_STREAM_STDERR);
  }
  SECTION("follow stays open while running and ends when it stops") {
    Start(*stub, id);
    pb::ContainerLogsRequest req;
    *req.mutable_id() = id;
    req.set_follow(true);
    auto ctx = Ctx(absl::Seconds(20));
    auto reader = stub->ContainerLogs(ctx.get(), req);
    pb::LogEntry e;
    for (int i = 0; i < 3; ++i) REQUIRE(reader->Read(&e));
    // Nothing more arrives while it runs; stopping it ends the stream.
    std::thread stopper([&] {
      absl::SleepFor(absl::Milliseconds(200));
      Stop(*stub, id);
    });
    CHECK_FALSE(reader->Read(&e));
    stopper.join();
    CHECK(reader->Finish().ok());
  }
  SECTION("follow on a stopped container ends after the backlog") {
    Start(*stub, id);
    Stop(*stub, id);
    CHECK(read_all(0, true).size() == 3);
  }
  SECTION("missing container") {
    pb::ContainerLogsRequest req;
    *req.mutable_id() = Id("ghost", 1);
    auto ctx = Ctx();
    auto reader = stub->ContainerLogs(ctx.get(), req);
    pb::LogEntry e;
    CHECK_FALSE(reader->Read(&e));
    CHECK(reader->Finish().error_code() == grpc::StatusCode::NOT_FOUND);
  }
}

TEST_CASE("ExecStream ends with exactly one exit event", "[integration]") {
  AgentProcess agent;
  auto stub = agent.Stub();
  const auto id = Id("web", 1);
  Create(*stub, id);
  pb::ExecRequest req;
  *req.mutable_id() = id;
  req.add_command("echo");
  req.add_command("streamed");
  SECTION("in a running container") {
    Start(*stub, id);
    auto ctx = Ctx();
    auto reader = stub->ExecStream(ctx.get(), req);
    std::vector<pb::ExecEvent> events;
    pb::ExecEvent ev;
    while (reader->Read(&ev)) events.push_back(ev);
    REQUIRE(reader->Finish().ok());
    REQUIRE(events.size() == 2);
    CHECK(events[0].stdout() == "echo streamed");
    CHECK(events.back().event_case() == pb::ExecEvent::kExitCode);
    CHECK(events.back().exit_code() == 0);
  }
  SECTION("not running: FAILED_PRECONDITION, no events") {
    auto ctx = Ctx();
    auto reader = stub->ExecStream(ctx.get(), req);
    pb::ExecEvent ev;
    CHECK_FALSE(reader->Read(&ev));
    CHECK(reader->Finish().error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  }
}

TEST_CASE("PullImage streams progress and ends with the result", "[integration]") {
  AgentProcess agent;
  auto stub = agent.Stub();
  pb::PullImageRequest req;
  req.set_image("busybox:latest");
  req.set_policy(pb::PULL_POLICY_ALWAYS);
  auto ctx = Ctx();
  auto reader = stub->PullImage(ctx.get(), req);
  std::vector<pb::PullImageEvent> events;
  pb::PullImageEvent ev;
  while (reader->Read(&ev)) events.push_back(ev);
  REQUIRE(reader->Finish().ok());
  REQUIRE(events.size() >= 2);
  CHECK(events.front().has_status());
  REQUIRE(events.back().has_done());
  CHECK(events.back().done().reference() == "busybox:latest");
  for (size_t i = 0; i + 1 < events.size(); ++i) CHECK_FALSE(events[i].has_done());
}

TEST_CASE("StreamStats samples at the interval and ends when the container stops",
          "[integration]") {
  AgentProcess agent;
  auto stub = agent.Stub();
  const auto id = Id("web", 1);
  Create(*stub, id);
  pb::StreamStatsRequest req;
  *req.mutable_id() = id;
  req.mutable_interval()->set_nanos(100'000'000);
  SECTION("running") {
    Start(*stub, id);
    auto ctx = Ctx(absl::Seconds(20));
    auto reader = stub->StreamStats(ctx.get(), req);
    pb::ContainerStats s;
    for (int i = 0; i < 3; ++i) {
      REQUIRE(reader->Read(&s));
      CHECK(s.memory_limit() == 256u * 1024 * 1024);
    }
    Stop(*stub, id);
    while (reader->Read(&s)) {
    }
    CHECK(reader->Finish().ok());
  }
  SECTION("not running") {
    auto ctx = Ctx();
    auto reader = stub->StreamStats(ctx.get(), req);
    pb::ContainerStats s;
    CHECK_FALSE(reader->Read(&s));
    CHECK(reader->Finish().error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  }
}

namespace {

// The agent's resident memory, from /proc.
long RssKb(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

}  // namespace

TEST_CASE("events: a subscriber that never reads stalls nobody and holds one batch",
          "[integration][events]") {
  AgentProcess agent;
  auto stub = agent.Stub();
  constexpr int kContainers = 1500;  // 4 events each
  // A 4 KiB image name rides in 3 of each 4 events: a stream that queued its backlog
  // would hold about 18 MB per flood.
  std::string image = "example.test/";
  while (image.size() < 4096) image += "flood/";
  image += "x:latest";
  auto flood = [&](const std::string& service) {
    for (int i = 1; i <= kContainers; ++i) {
      const auto id = Id(service, static_cast<uint32_t>(i));
      pb::CreateContainerRequest create;
      *create.mutable_id() = id;
      create.mutable_spec()->mutable_image()->set_name(image);
      Call(&pb::RuntimeService::Stub::CreateContainer, *stub, create);
      Start(*stub, id);
      Kill(*stub, id);
      pb::RemoveContainerRequest remove;
      *remove.mutable_id() = id;
      Call(&pb::RuntimeService::Stub::RemoveContainer, *stub, remove);
    }
  };
  // The control: what a flood costs with no subscriber (the mock's journal is in
  // memory, so it grows by the events themselves).
  const long rss_start = RssKb(agent.pid());
  flood("control");
  const long control_kb = RssKb(agent.pid()) - rss_start;

  // Opened from the start of the journal (both floods behind it), and never read.
  auto idle_ctx = Ctx(absl::Seconds(120));
  pb::EventsRequest from_start;
  from_start.set_since_sequence(0);
  auto idle = stub->Events(idle_ctx.get(), from_start);
  const long rss_before = RssKb(agent.pid());
  flood("flood");
  const long with_idle_kb = RssKb(agent.pid()) - rss_before;

  // Another subscriber reads all of it meanwhile, in order.
  auto ctx = Ctx(absl::Seconds(60));
  pb::EventsRequest request;
  request.set_since_sequence(0);
  request.set_service("flood");
  auto reader = stub->Events(ctx.get(), request);
  pb::Event event;
  int removed = 0;
  uint64_t last = 0;
  bool ordered = true;
  while (removed < kContainers && reader->Read(&event)) {
    ordered = ordered && event.sequence() > last;
    last = event.sequence();
    if (event.kind() == pb::EVENT_KIND_CONTAINER_REMOVED) ++removed;
  }
  ctx->TryCancel();
  (void)reader->Finish();
  CHECK(removed == kContainers);
  CHECK(ordered);
  // 12,000 events behind, the idle stream holds one batch (128) and what gRPC's flow
  // control admits; the journal keeps the rest.
  std::printf("events: a flood grows the agent by %ld kB with no subscriber, by %ld kB with "
              "one %d events behind\n",
              control_kb, with_idle_kb, kContainers * 8);
  CHECK(with_idle_kb < control_kb + 8 * 1024);

  // The idle subscriber still gets everything once it reads.
  int idle_removed = 0;
  while (idle_removed < 2 * kContainers && idle->Read(&event)) {
    if (event.kind() == pb::EVENT_KIND_CONTAINER_REMOVED) ++idle_removed;
  }
  CHECK(idle_removed == 2 * kContainers);
  idle_ctx->TryCancel();
  (void)idle->Finish();
}
