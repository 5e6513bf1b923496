// Stats of real containers through the API: what the kernel says, one-shot,
// streaming, and for all containers at once.
#include <catch2/catch.hpp>
#include <unistd.h>

#include "oci_env.h"
#include "support/test_support.h"

using namespace zlayer::testing;
namespace pb = zlayer::agent::v1;

namespace {

pb::ContainerStats Stats(OciEnv& env, const pb::ContainerId& id) {
  pb::GetStatsRequest req;
  *req.mutable_id() = id;
  pb::ContainerStats s;
  auto status = env.stub().GetStats(Ctx().get(), req, &s);
  INFO(status.error_message());
  REQUIRE(status.ok());
  return s;
}

constexpr uint64_t kMiB = 1ull << 20;

}  // namespace

TEST_CASE("stats: memory matches what the container touched, the limit is the spec's",
          "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  auto spec = env.Hog({"mem", "64"});
  spec.mutable_resources()->set_memory_bytes(256 * kMiB);
  const auto id = env.Create("memhog", 1, spec);
  env.Start(id);
  env.AwaitReady(id);
  const auto s = Stats(env, id);
  // 64 MiB of anonymous memory, touched; plus what any process costs the cgroup
  // (page tables, kernel stack, the binary's pages): a few MiB, never 16.
  CHECK(s.memory_bytes() >= 64 * kMiB);
  CHECK(s.memory_bytes() <= 80 * kMiB);
  CHECK(s.memory_limit() == 256 * kMiB);
  if (s.has_memory_anon()) CHECK(s.memory_anon() >= 63 * kMiB);
  CHECK(s.cgroup_mode() != "unknown");
  CHECK(s.id().service() == "memhog");
}

TEST_CASE("stats: no limit reads as 0, CPU usage grows, pids count children", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  SECTION("cpu") {
    const auto id = env.Create("cpuhog", 1, env.Hog({"cpu"}));
    env.Start(id);
    env.AwaitReady(id);
    const auto a = Stats(env, id);
    CHECK(a.memory_limit() == 0);
    absl::SleepFor(absl::Milliseconds(300));
    const auto b = Stats(env, id);
    CHECK(b.cpu_usage_usec() > a.cpu_usage_usec());
    // A spinning core: at least a third of the wall time between the samples.
    const double wall_usec =
        (b.timestamp().seconds() - a.timestamp().seconds()) * 1e6 +
        (b.timestamp().nanos() - a.timestamp().nanos()) / 1e3;
    CHECK(static_cast<double>(b.cpu_usage_usec() - a.cpu_usage_usec()) > wall_usec / 3);
  }
  SECTION("pids") {
    const auto id = env.Create("forker", 1, env.Hog({"fork", "5"}));
    env.Start(id);
    env.AwaitReady(id);
    const auto s = Stats(env, id);
    REQUIRE(s.has_pids_current());
    CHECK(s.pids_current() == 6);
  }
}

TEST_CASE("stats: a stream samples until the container exits, list covers all", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  const auto id = env.Create("streamed", 1, env.Shell("sleep 1.5"));
  const auto other = env.Create("streamed", 2, env.Shell("sleep 600"));
  env.Start(id);
  env.Start(other);
  {
    pb::ListStatsRequest req;
    req.set_service("streamed");
    pb::ListStatsResponse resp;
    REQUIRE(env.stub().ListStats(Ctx().get(), req, &resp).ok());
    CHECK(resp.stats_size() == 2);
  }
  pb::StreamStatsRequest req;
  *req.mutable_id() = id;
  req.mutable_interval()->set_nanos(200'000'000);
  auto ctx = Ctx(absl::Seconds(30));
  auto reader = env.stub().StreamStats(ctx.get(), req);
  int samples = 0;
  pb::ContainerStats s;
  while (reader->Read(&s)) ++samples;
  CHECK(reader->Finish().ok());
  CHECK(samples >= 3);
  CHECK(env.State(id).phase() == pb::CONTAINER_PHASE_EXITED);
  pb::GetStatsRequest gone;
  *gone.mutable_id() = id;
  pb::ContainerStats out;
  CHECK(env.stub().GetStats(Ctx().get(), gone, &out).error_code() ==
        grpc::StatusCode::FAILED_PRECONDITION);
}
