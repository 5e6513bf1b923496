// `cmake --install` into a temporary prefix, then the installed units through
// `systemd-analyze verify` (which also checks that ExecStart= exists, hence a
// real install rather than the source files), and the installed agent started
// from its installed location (it must find zlayer-monitor under libexec/zlayer).
#include <catch2/catch.hpp>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/fs_util.h"
#include "base/process.h"
#include "sd_test_support.h"
#include "support/test_support.h"

using namespace zlayer::testing;

namespace {

const char kPath[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

zlayer::base::RunResult Run(std::vector<std::string> argv, std::vector<std::string> env = {},
                            absl::Duration timeout = absl::Seconds(120)) {
  zlayer::base::RunOptions run;
  run.argv = std::move(argv);
  run.env = {kPath};
  for (auto& e : env) run.env.push_back(e);
  run.timeout = timeout;
  auto r = zlayer::base::RunCommand(run);
  REQUIRE(r.ok());
  return *r;
}

std::string ReadText(const std::string& path) {
  auto text = zlayer::base::ReadFile(path);
  REQUIRE(text.ok());
  return *text;
}

bool IsExecutable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

// Installs everything but the "config" component (which writes /etc/zlayer).
std::string InstallTo(const std::string& prefix) {
  auto r = Run({ZLAYER_CMAKE_COMMAND, "--install", ZLAYER_BINARY_DIR, "--prefix", prefix,
                "--component", "Unspecified"});
  INFO(r.out << r.err);
  REQUIRE(r.status.code == 0);
  return prefix;
}

}  // namespace

TEST_CASE("install: units, binaries, config and docs land where they belong",
          "[integration][systemd]") {
  auto dir = MakeTempDir("zt-sdi-");
  const std::string prefix = InstallTo(dir.path() + "/prefix");
  CHECK(IsExecutable(prefix + "/bin/zlayer-agentd"));
  CHECK(IsExecutable(prefix + "/bin/zlayerctl"));
  CHECK(IsExecutable(prefix + "/libexec/zlayer/zlayer-monitor"));
  CHECK(::access((prefix + "/share/zlayer/agentd.yaml").c_str(), R_OK) == 0);
  CHECK(::access((prefix + "/share/doc/zlayer-agentd/operations.md").c_str(), R_OK) == 0);
  CHECK_FALSE(IsExecutable(prefix + "/bin/zlayer-agentd-testhooks"));

  const std::string unit_dir = prefix + "/lib/systemd/system";
  const std::string service = ReadText(unit_dir + "/zlayer-agentd.service");
  const std::string socket = ReadText(unit_dir + "/zlayer-agentd.socket");
  // ExecStart names the binary under this prefix.
  CHECK(absl::StrContains(service, "\nExecStart=" + prefix + "/bin/zlayer-agentd\n"));
  CHECK(absl::StrContains(
      service, "\nDocumentation=file:" + prefix + "/share/doc/zlayer-agentd/operations.md\n"));
  // What the issue asks of the units, line by line.
  for (const char* line :
       {"Type=notify", "NotifyAccess=main", "WatchdogSec=30s", "Restart=on-failure",
        "KillMode=process", "Delegate=yes", "LimitNOFILE=1048576", "TasksMax=16384",
        "ExecReload=/bin/kill -HUP $MAINPID", "Requires=zlayer-agentd.socket"}) {
    INFO(line);
    CHECK(absl::StrContains(service, absl::StrCat("\n", line, "\n")));
  }
  for (const char* line : {"ListenStream=/run/zlayer/agentd.sock", "SocketMode=0660",
                           "SocketGroup=root", "WantedBy=sockets.target",
                           "Also=zlayer-agentd.service"}) {
    INFO(line);
    CHECK(absl::StrContains(socket, absl::StrCat("\n", line, "\n")));
  }

  // Both units pass systemd's own checks (unknown keys, bad values, missing
  // executables, the socket's service).
  auto verify = Run({"/usr/bin/systemd-analyze", "verify", unit_dir + "/zlayer-agentd.service",
                     unit_dir + "/zlayer-agentd.socket"},
                    {}, absl::Seconds(60));
  INFO(verify.out << verify.err);
  // verify exits 0 for assignments it ignores, so its output must be empty too.
  CHECK(verify.status.code == 0);
  CHECK(verify.out.empty());
  CHECK(verify.err.empty());

  // The installed default config is valid.
  auto check = Run({prefix + "/bin/zlayer-agentd", "--check-config", "--config",
                    prefix + "/share/zlayer/agentd.yaml"});
  INFO(check.err);
  CHECK(check.status.code == 0);
}

TEST_CASE("install: systemd-analyze verify catches a broken unit", "[integration][systemd]") {
  // The check above is only worth something if verify fails on a bad unit.
  auto dir = MakeTempDir("zt-sdi-");
  const std::string prefix = InstallTo(dir.path() + "/prefix");
  const std::string unit_dir = prefix + "/lib/systemd/system";
  std::string service = ReadText(unit_dir + "/zlayer-agentd.service");
  SECTION("a missing executable") {
    REQUIRE(::unlink((prefix + "/bin/zlayer-agentd").c_str()) == 0);
  }
  SECTION("a bad value") {
    service.replace(service.find("Type=notify"), 11, "Type=notifyy");
    std::ofstream(unit_dir + "/zlayer-agentd.service", std::ios::trunc) << service;
  }
  auto verify = Run({"/usr/bin/systemd-analyze", "verify", unit_dir + "/zlayer-agentd.service"},
                    {}, absl::Seconds(60));
  INFO(verify.out << verify.err);
  CHECK((verify.status.code != 0 || !verify.err.empty()));
}

TEST_CASE("install: the config component never overwrites an existing config",
          "[integration][systemd]") {
  auto dir = MakeTempDir("zt-sdi-");
  const std::string destdir = dir.path() + "/root";
  auto install = [&] {
    auto r = Run({ZLAYER_CMAKE_COMMAND, "--install", ZLAYER_BINARY_DIR, "--component", "config"},
                 {"DESTDIR=" + destdir});
    INFO(r.out << r.err);
    REQUIRE(r.status.code == 0);
    return r.out;
  };
  install();
  const std::string config = destdir + "/etc/zlayer/agentd.yaml";
  CHECK(ReadText(config) == ReadText(SourcePath("systemd/agentd.yaml")));
  { std::ofstream(config, std::ios::trunc) << "log_level: debug\n"; }
  const std::string out = install();
  CHECK(absl::StrContains(out, "Keeping: " + config));
  CHECK(ReadText(config) == "log_level: debug\n");
}

TEST_CASE("install: the installed agent finds zlayer-monitor under libexec and starts",
          "[root][systemd]") {
  if (!IsRoot() || ::access("/usr/sbin/runc", X_OK) != 0) {
    WARN("skipped: the OCI backend needs root and runc");
    return;
  }
  auto dir = MakeTempDir("zt-sdi-");
  const std::string prefix = InstallTo(dir.path() + "/prefix");
  NotifySocket notify(dir.path() + "/notify");
  OutputCollector output;
  LaunchOptions launch;
  // No --monitor: the agent must find it relative to its own installed path.
  launch.argv = {prefix + "/bin/zlayer-agentd", "--backend", "oci", "--runtime", "runc",
                 "--socket", dir.path() + "/agentd.sock", "--data-dir", dir.path() + "/data",
                 "--run-dir", dir.path() + "/run", "--log-level", "debug"};
  launch.env = {kPath, notify.Env()};
  launch.output_fd = output.write_fd();
  LaunchedProcess process(launch);
  output.CloseWriteEnd();
  auto ready = notify.WaitFor("READY", "1", absl::Seconds(60));
  INFO(output.Text());
  REQUIRE(ready);
  CHECK(absl::StartsWith(ready->Get("STATUS"), "ready: backend=oci runtime=runc"));
  CHECK(process.Stop() == 0);
}
