// Container logs: tail, all, follow, rotation without losing a line.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <thread>

#include "oci_env.h"
#include "support/test_support.h"

using namespace zlayer::testing;
namespace pb = zlayer::agent::v1;

TEST_CASE("logs: tail N, all, stdout and stderr, partial lines", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  const auto id = env.Create("logs", 1,
                             env.Shell("for i in 1 2 3 4 5; do echo out$i; done; echo err >&2; "
                                       "printf 'no newline'"));
  env.Start(id);
  env.WaitOutcome(id);
  auto all = env.Logs(id);
  REQUIRE(all.size() == 7);
  CHECK(all[0].message() == "out1");
  CHECK(all[5].message() == "err");
  CHECK(all[5].stream() == pb::LOG_STREAM_STDERR);
  CHECK(all[6].message() == "no newline");
  for (size_t i = 1; i < all.size(); ++i) {
    CHECK(all[i].timestamp().seconds() * 1'000'000'000 + all[i].timestamp().nanos() >=
          all[i - 1].timestamp().seconds() * 1'000'000'000 + all[i - 1].timestamp().nanos());
  }
  auto tail = env.Logs(id, 2);
  REQUIRE(tail.size() == 2);
  CHECK(tail[0].message() == "err");
  CHECK(tail[1].message() == "no newline");
}

TEST_CASE("logs: follow streams new lines and ends when the container exits", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  const auto id = env.Create("follow", 1,
                             env.Shell("echo first; while [ ! -e /tmp/go ]; do sleep 0.05; done; "
                                       "for i in $(seq 1 20); do echo line$i; sleep 0.01; done"));
  env.Start(id);
  pb::ContainerLogsRequest req;
  *req.mutable_id() = id;
  req.set_follow(true);
  auto ctx = Ctx(absl::Seconds(60));
  auto reader = env.stub().ContainerLogs(ctx.get(), req);
  pb::LogEntry e;
  REQUIRE(reader->Read(&e));
  CHECK(e.message() == "first");
  // Only now let the container write more: these must arrive through following.
  env.Exec(id, {"touch", "/tmp/go"});
  std::vector<std::string> got;
  while (reader->Read(&e)) got.push_back(e.message());
  CHECK(reader->Finish().ok());
  REQUIRE(got.size() == 20);
  for (int i = 0; i < 20; ++i) CHECK(got[i] == "line" + std::to_string(i + 1));
}

TEST_CASE("logs: rotation at the size limit loses no line", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  // Small files, so that the output rotates many times.
  auto dir = MakeTempDir();
  const std::string config = dir.path() + "/agentd.yaml";
  REQUIRE(zlayer::base::WriteFileAtomic(
              config, "limits:\n  log_max_size: 32Ki\n  log_max_files: 100\n").ok());
  OciEnv env({"--config", config});

  SECTION("a burst: every line is in the files, in order") {
    const auto id = env.Create("rotate", 1, env.Shell("seq 1 20000"));
    env.Start(id);
    env.WaitOutcome(id);
    auto all = env.Logs(id);
    REQUIRE(all.size() == 20000);
    for (int i = 0; i < 20000; ++i) {
      if (all[i].message() != std::to_string(i + 1)) FAIL("line " << i + 1 << " is " << all[i].message());
    }
    const pb::ContainerInfo info = env.Inspect(id);
    const std::string log_path = info.annotations().at("log_path");
    // 20000 records of about 40 bytes: more than 20 files of 32 KiB.
    CHECK(::access((log_path + ".20").c_str(), F_OK) == 0);
    struct stat st;
    REQUIRE(::stat((log_path + ".1").c_str(), &st) == 0);
    CHECK(st.st_size <= 32 * 1024);
  }
}

TEST_CASE("logs: a follower carries on across rotations and sees every line", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  // Few files kept: the follower must walk rotated files in order, not jump to the
  // live one.
  auto dir = MakeTempDir();
  const std::string config = dir.path() + "/agentd.yaml";
  REQUIRE(zlayer::base::WriteFileAtomic(
              config, "limits:\n  log_max_size: 16Ki\n  log_max_files: 3\n").ok());
  OciEnv env({"--config", config});
  {
    const auto id = env.Create("rotate", 2,
                               env.Shell("while [ ! -e /tmp/go ]; do sleep 0.05; done; "
                                         "for b in $(seq 0 49); do seq $((b*200+1)) $((b*200+200)); "
                                         "sleep 0.02; done"));
    env.Start(id);
    pb::ContainerLogsRequest req;
    *req.mutable_id() = id;
    req.set_follow(true);
    auto ctx = Ctx(absl::Seconds(120));
    auto reader = env.stub().ContainerLogs(ctx.get(), req);
    env.Exec(id, {"touch", "/tmp/go"});
    std::vector<int> got;
    pb::LogEntry e;
    while (reader->Read(&e)) got.push_back(std::stoi(e.message()));
    CHECK(reader->Finish().ok());
    REQUIRE(got.size() == 10000);
    for (int i = 0; i < 10000; ++i) {
      if (got[i] != i + 1) FAIL("line " << i + 1 << " is " << got[i]);
    }
  }
}
