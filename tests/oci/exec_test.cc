// Exec in real containers: buffered, streaming, drain, timeout.
#include <catch2/catch.hpp>

#include "absl/time/clock.h"
#include "oci_env.h"
#include "support/test_support.h"

using namespace zlayer::testing;
namespace pb = zlayer::agent::v1;

namespace {

std::vector<pb::ExecEvent> ExecStream(OciEnv& env, const pb::ExecRequest& req, grpc::Status* status,
                                      absl::Duration timeout = absl::Seconds(30)) {
  auto ctx = Ctx(timeout);
  auto reader = env.stub().ExecStream(ctx.get(), req);
  std::vector<pb::ExecEvent> events;
  pb::ExecEvent ev;
  while (reader->Read(&ev)) events.push_back(ev);
  *status = reader->Finish();
  return events;
}

}  // namespace

TEST_CASE("exec: buffered, with exit codes, stdout, stderr, env, user, workdir", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  const auto id = env.Create("exec", 1, env.Shell("sleep 600"));
  env.Start(id);
  SECTION("output and exit code") {
    auto r = env.Exec(id, {"sh", "-c", "echo out; echo err >&2; exit 5"});
    CHECK(r.exit_code() == 5);
    CHECK(r.stdout() == "out\n");
    CHECK(r.stderr() == "err\n");
  }
  SECTION("env, user and workdir") {
    pb::ExecRequest req;
    *req.mutable_id() = id;
    for (const char* a : {"sh", "-c", "echo $FOO $IMAGE_VAR; id -u; id -g; pwd"}) req.add_command(a);
    (*req.mutable_env())["FOO"] = "bar";
    req.set_user("app");
    req.set_workdir("/tmp");
    pb::ExecResponse resp;
    REQUIRE(env.stub().Exec(Ctx().get(), req, &resp).ok());
    CHECK(resp.stdout() == "bar from-image\n1000\n1000\n/tmp\n");
  }
  SECTION("a missing command is reported by the runtime") {
    pb::ExecRequest req;
    *req.mutable_id() = id;
    req.add_command("/nope");
    pb::ExecResponse resp;
    auto s = env.stub().Exec(Ctx().get(), req, &resp);
    // The runtime fails to exec it: a non-zero exit with its complaint on stderr.
    REQUIRE(s.ok());
    CHECK(resp.exit_code() != 0);
    CHECK(resp.stderr().find("/nope") != std::string::npos);
  }
  SECTION("a background child holding the output cannot hang the call") {
    const absl::Time start = absl::Now();
    auto r = env.Exec(id, {"sh", "-c", "sleep 600 & echo hi"});
    CHECK(r.exit_code() == 0);
    CHECK(r.stdout() == "hi\n");
    CHECK(absl::Now() - start < absl::Seconds(20));
  }
  SECTION("the server-side timeout kills the process") {
    pb::ExecRequest req;
    *req.mutable_id() = id;
    for (const char* a : {"sh", "-c", "echo begin; sleep 601; true"}) req.add_command(a);
    req.mutable_timeout()->set_nanos(500'000'000);
    pb::ExecResponse resp;
    auto s = env.stub().Exec(Ctx(absl::Seconds(30)).get(), req, &resp);
    CHECK(s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
    // Nothing left running from that exec: neither the shell nor its child.
    auto ps = env.Exec(id, {"sh", "-c", "ps -o args | grep -v grep | grep -c 'sleep 601' || true"});
    CHECK(ps.stdout() == "0\n");
  }
}

TEST_CASE("exec: streaming chunks as produced, then exactly one exit", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  const auto id = env.Create("stream", 1, env.Shell("sleep 600"));
  env.Start(id);
  pb::ExecRequest req;
  *req.mutable_id() = id;
  SECTION("chunks arrive before the process ends") {
    for (const char* a : {"sh", "-c", "echo one; sleep 1; echo two >&2; sleep 1; echo three; exit 4"}) {
      req.add_command(a);
    }
    auto ctx = Ctx(absl::Seconds(30));
    auto reader = env.stub().ExecStream(ctx.get(), req);
    pb::ExecEvent ev;
    REQUIRE(reader->Read(&ev));
    // The first chunk comes while the process still sleeps.
    CHECK(ev.stdout() == "one\n");
    std::string out = ev.stdout(), err;
    int exits = 0, last_exit = -1;
    bool exit_was_last = false;
    while (reader->Read(&ev)) {
      exit_was_last = false;
      if (ev.event_case() == pb::ExecEvent::kStdout) out += ev.stdout();
      if (ev.event_case() == pb::ExecEvent::kStderr) err += ev.stderr();
      if (ev.event_case() == pb::ExecEvent::kExitCode) {
        ++exits;
        last_exit = ev.exit_code();
        exit_was_last = true;
      }
    }
    CHECK(reader->Finish().ok());
    CHECK(out == "one\nthree\n");
    CHECK(err == "two\n");
    CHECK(exits == 1);
    CHECK(exit_was_last);
    CHECK(last_exit == 4);
  }
  SECTION("the drain case ends with the exit event") {
    for (const char* a : {"sh", "-c", "sleep 600 & echo hi"}) req.add_command(a);
    grpc::Status status;
    auto events = ExecStream(env, req, &status);
    CHECK(status.ok());
    REQUIRE(events.size() == 2);
    CHECK(events[0].stdout() == "hi\n");
    CHECK(events[1].exit_code() == 0);
  }
  SECTION("a timeout ends with exit 137 and DEADLINE_EXCEEDED") {
    for (const char* a : {"sleep", "600"}) req.add_command(a);
    req.mutable_timeout()->set_nanos(300'000'000);
    grpc::Status status;
    auto events = ExecStream(env, req, &status);
    REQUIRE_FALSE(events.empty());
    CHECK(events.back().exit_code() == 137);
    CHECK(status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  SECTION("a client that goes away kills the process") {
    for (const char* a : {"sh", "-c", "echo ready; exec sleep 700"}) req.add_command(a);
    {
      auto ctx = Ctx(absl::Seconds(30));
      auto reader = env.stub().ExecStream(ctx.get(), req);
      pb::ExecEvent ev;
      REQUIRE(reader->Read(&ev));
      ctx->TryCancel();
      while (reader->Read(&ev)) {
      }
      (void)reader->Finish();
    }
    CHECK(WaitFor([&] {
      auto ps = env.Exec(id, {"sh", "-c", "ps -o args | grep -v grep | grep -c 'sleep 700' || true"});
      return ps.stdout() == "0\n";
    }, absl::Seconds(30), absl::Milliseconds(100)));
  }
}
