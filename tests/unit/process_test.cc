#include <catch2/catch.hpp>
#include <signal.h>

#include "absl/time/clock.h"
#include "base/process.h"

using namespace zlayer;

TEST_CASE("RunCommand captures output and exit codes", "[unit]") {
  base::RunOptions run;
  run.argv = {"/bin/sh", "-c", "echo out; echo err >&2; exit 3"};
  auto r = base::RunCommand(run);
  REQUIRE(r.ok());
  CHECK(r->status.code == 3);
  CHECK(r->status.signal == 0);
  CHECK(r->out == "out\n");
  CHECK(r->err == "err\n");
}

TEST_CASE("RunCommand reports death by signal as 128+N", "[unit]") {
  base::RunOptions run;
  run.argv = {"/bin/sh", "-c", "kill -9 $$"};
  auto r = base::RunCommand(run);
  REQUIRE(r.ok());
  CHECK(r->status.signal == SIGKILL);
  CHECK(r->status.code == 137);
}

TEST_CASE("RunCommand does not hang on a background child holding stdout", "[unit]") {
  // The pitfall of `runc create`: a child keeps the output open. Memfds end at exit.
  base::RunOptions run;
  run.argv = {"/bin/sh", "-c", "sleep 30 & echo started"};
  run.timeout = absl::Seconds(10);
  const absl::Time start = absl::Now();
  auto r = base::RunCommand(run);
  REQUIRE(r.ok());
  CHECK(r->out == "started\n");
  CHECK(absl::Now() - start < absl::Seconds(9));
}

TEST_CASE("RunCommand kills a command at its deadline", "[unit]") {
  base::RunOptions run;
  run.argv = {"/bin/sleep", "30"};
  run.timeout = absl::Milliseconds(200);
  auto r = base::RunCommand(run);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == absl::StatusCode::kDeadlineExceeded);
}

TEST_CASE("RunCommand feeds stdin and bounds output", "[unit]") {
  base::RunOptions run;
  run.argv = {"/bin/cat"};
  run.stdin_data = std::string(5000, 'x');
  run.max_output = 100;
  auto r = base::RunCommand(run);
  REQUIRE(r.ok());
  CHECK(r->out.size() == 100);
}

TEST_CASE("ChildProcess kills and reaps on destruction", "[unit]") {
  pid_t pid;
  {
    base::SpawnOptions spawn;
    spawn.argv = {"/bin/sleep", "30"};
    auto child = base::ChildProcess::Spawn(spawn);
    REQUIRE(child.ok());
    pid = child->pid();
    CHECK(::kill(pid, 0) == 0);
  }
  // Reaped: the pid no longer exists (no zombie left behind).
  CHECK(::kill(pid, 0) != 0);
}

TEST_CASE("Spawn rejects relative paths and reports missing binaries", "[unit]") {
  base::SpawnOptions spawn;
  spawn.argv = {"sleep", "1"};
  CHECK(base::ChildProcess::Spawn(spawn).status().code() == absl::StatusCode::kInvalidArgument);
  spawn.argv = {"/nonexistent/binary"};
  CHECK(base::ChildProcess::Spawn(spawn).status().code() == absl::StatusCode::kNotFound);
}
