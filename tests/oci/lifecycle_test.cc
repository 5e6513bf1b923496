// Lifecycle of real containers through the gRPC API: states, exit codes, signals,
// OOM, stop escalation, runtime errors.
#include <catch2/catch.hpp>

#include "oci_env.h"
#include "support/test_support.h"

using namespace zlayer::testing;
namespace pb = zlayer::agent::v1;

#define SKIP_UNLESS_CONTAINERS()                                    \
  do {                                                              \
    if (!CanRunContainers()) {                                      \
      WARN("skipped: needs root and an OCI runtime (runc)");        \
      return;                                                       \
    }                                                               \
  } while (0)

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
