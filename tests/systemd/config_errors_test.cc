// The config file as the daemon reads it: bad files stop start-up with exit code 2
// and FILE:LINE:COLUMN on stderr (before anything is sent to systemd), and the
// shipped default file is valid and says what the built-in defaults say.
#include <catch2/catch.hpp>

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/process.h"
#include "sd_test_support.h"
#include "support/test_support.h"

using namespace zlayer::testing;

namespace {

zlayer::base::RunResult RunAgent(std::vector<std::string> args,
                                 std::vector<std::string> env = {}) {
  zlayer::base::RunOptions run;
  run.argv = {AgentdBin()};
  for (auto& a : args) run.argv.push_back(a);
  run.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  for (auto& e : env) run.env.push_back(e);
  run.timeout = absl::Seconds(20);
  auto r = zlayer::base::RunCommand(run);
  REQUIRE(r.ok());
  return *r;
}

}  // namespace

TEST_CASE("config: a bad file stops start-up with exit 2 and FILE:LINE:COLUMN",
          "[integration][systemd]") {
  auto dir = MakeTempDir("zt-sdc-");
  const std::string file = dir.path() + "/agentd.yaml";
  std::string text, expected;
  SECTION("unknown key") {
    text = "listen:\n  sockett: /run/x.sock\n";
    expected = file + ":2:3: listen.sockett: unknown key; expected one of: socket, "
                      "socket_mode, socket_group, tcp";
  }
  SECTION("unknown top-level key") {
    text = "log_level: info\nloglevel: debug\n";
    expected = file + ":2:1: loglevel: unknown key";
  }
  SECTION("duplicate key") {
    text = "backend: oci\nbackend: mock\n";
    expected = file + ":2:1: backend: duplicate key";
  }
  SECTION("bad number") {
    text = "limits:\n  work_threads: lots\n";
    expected = file + ":2:17: limits.work_threads: expected a whole number from 1 to 256";
  }
  SECTION("bad enum") {
    text = "backend: docker\n";
    expected = file + ":1:10: backend: expected one of: oci, mock";
  }
  SECTION("bad mode") {
    text = "listen:\n  socket_mode: \"0999\"\n";
    expected = file + ":2:16: listen.socket_mode: expected an octal mode";
  }
  SECTION("relative path") {
    text = "data_dir: var/lib/zlayer\n";
    expected = file + ":1:11: data_dir: expected an absolute path";
  }
  SECTION("socket path too long for sun_path") {
    text = "listen:\n  socket: /" + std::string(120, 'a') + "\n";
    expected = file + ":2:11: listen.socket: socket path is 121 bytes; at most 107 fit";
  }
  SECTION("unknown group") {
    text = "listen:\n  socket_group: no-such-group-zl\n";
    expected = file + ":2:17: listen.socket_group: group 'no-such-group-zl' does not exist";
  }
  SECTION("bad TCP address") {
    text = "listen:\n  tcp: 7443\n";
    expected = file + ":2:8: listen.tcp: expected HOST:PORT";
  }
  SECTION("bad registry host") {
    text = "registries:\n  insecure: [\"reg.local:5000\", \"http://reg.local\"]\n";
    expected = file + ":2:32: registries.insecure: expected HOST or HOST:PORT";
  }
  SECTION("bad duration") {
    text = "limits:\n  queue_stall_timeout: soon\n";
    expected = file + ":2:24: limits.queue_stall_timeout: expected a duration";
  }
  SECTION("bad size") {
    text = "limits:\n  log_max_size: 10 MB\n";
    expected = file + ":2:17: limits.log_max_size: expected a size";
  }
  SECTION("wrong shape") {
    text = "listen: /run/x.sock\n";
    expected = file + ":1:9: listen: expected a mapping";
  }
  SECTION("YAML syntax") {
    text = "listen:\n  socket: [\n";
    expected = "invalid config " + file + ":3:1: ";
  }
  { std::ofstream(file) << text; }
  // NOTIFY_SOCKET is set: a config error must exit before telling systemd anything.
  NotifySocket notify(dir.path() + "/notify");
  auto r = RunAgent({"--config", file, "--backend", "mock", "--socket",
                     dir.path() + "/a.sock", "--data-dir", dir.path() + "/d", "--run-dir",
                     dir.path() + "/r"},
                    {notify.Env()});
  INFO(r.err);
  CHECK(r.status.code == 2);
  CHECK(absl::StrContains(r.err, expected));
  CHECK(absl::StartsWith(r.err, "zlayer-agentd: "));
  CHECK_FALSE(notify.Next(absl::ZeroDuration()));
  CHECK(::access((dir.path() + "/a.sock").c_str(), F_OK) != 0);
}

TEST_CASE("config: every error in a file is reported, not just the first",
          "[integration][systemd]") {
  auto dir = MakeTempDir("zt-sdc-");
  const std::string file = dir.path() + "/agentd.yaml";
  { std::ofstream(file) << "backend: docker\nlimits:\n  work_threads: 0\n  nope: 1\n"; }
  auto r = RunAgent({"--config", file});
  CHECK(r.status.code == 2);
  CHECK(absl::StrContains(r.err, file + ":1:10: backend"));
  CHECK(absl::StrContains(r.err, file + ":3:17: limits.work_threads"));
  CHECK(absl::StrContains(r.err, file + ":4:3: limits.nope: unknown key"));
}

TEST_CASE("config: a missing --config file and bad flags exit 2", "[integration][systemd]") {
  auto r = RunAgent({"--config", "/nonexistent/agentd.yaml"});
  CHECK(r.status.code == 2);
  CHECK(absl::StrContains(r.err, "/nonexistent/agentd.yaml"));
  r = RunAgent({"--tcp", "nope"});
  CHECK(r.status.code == 2);
  CHECK(absl::StrContains(r.err, "--tcp: expected HOST:PORT"));
  r = RunAgent({"--data-dir", "relative"});
  CHECK(r.status.code == 2);
  CHECK(absl::StrContains(r.err, "--data-dir: expected an absolute path"));
}

TEST_CASE("config: the shipped agentd.yaml is valid and matches the built-in defaults",
          "[integration][systemd]") {
  const std::string shipped = SourcePath("systemd/agentd.yaml");
  auto with_file = RunAgent({"--check-config", "--config", shipped});
  INFO(with_file.err);
  REQUIRE(with_file.status.code == 0);
  CHECK(absl::StartsWith(with_file.out, "# zlayer-agentd: configuration OK (file: " + shipped));
  // Without any file: the same effective settings.
  auto dir = MakeTempDir("zt-sdc-");
  const std::string empty = dir.path() + "/empty.yaml";
  { std::ofstream(empty) << "# nothing\n"; }
  auto defaults = RunAgent({"--check-config", "--config", empty});
  REQUIRE(defaults.status.code == 0);
  auto body = [](const std::string& out) { return out.substr(out.find('\n') + 1); };
  CHECK(body(with_file.out) == body(defaults.out));
  // The printed settings are themselves a valid config file that reads back the same.
  const std::string printed = dir.path() + "/printed.yaml";
  { std::ofstream(printed) << body(with_file.out); }
  auto again = RunAgent({"--check-config", "--config", printed});
  REQUIRE(again.status.code == 0);
  CHECK(body(again.out) == body(with_file.out));
  // Flags override the file.
  auto flagged = RunAgent({"--check-config", "--config", shipped, "--log-level", "debug",
                           "--runtime", "runc", "--insecure-registry", "reg.local:5000"});
  REQUIRE(flagged.status.code == 0);
  CHECK(absl::StrContains(flagged.out, "log_level: debug"));
  CHECK(absl::StrContains(flagged.out, "runtime: runc"));
  CHECK(absl::StrContains(flagged.out, "insecure: [reg.local:5000]"));
}
