// zlayerctl against the OCI backend with real containers. Runs only where that is
// possible: as root, with runc, umoci and busybox-static installed, and an agent
// whose --backend oci starts. Elsewhere each case says why it did nothing.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/process.h"
#include "cli_runner.h"
#include "support/agent_process.h"
#include "support/test_netns.h"
#include "support/test_support.h"

namespace zlayer::testing {
namespace {

// Runs a helper tool; fails the test when it fails.
void Tool(const std::vector<std::string>& argv) {
  base::RunOptions options;
  options.argv = argv;
  options.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  options.timeout = absl::Minutes(2);
  auto r = base::RunCommand(options);
  INFO(absl::StrJoin(argv, " "));
  REQUIRE(r.ok());
  INFO(r->err);
  REQUIRE(r->ok());
}

// An OCI image layout tar holding busybox-static, built with umoci: no registry and
// no network involved.
std::string BuildBusyboxImage(const std::string& dir) {
  auto umoci = base::FindExecutable("umoci");
  REQUIRE(umoci.ok());
  const std::string layout = dir + "/layout";
  const std::string bundle = dir + "/bundle";
  Tool({*umoci, "init", "--layout", layout});
  Tool({*umoci, "new", "--image", layout + ":test"});
  Tool({*umoci, "unpack", "--image", layout + ":test", bundle});
  Tool({"/bin/mkdir", "-p", bundle + "/rootfs/bin"});
  Tool({"/bin/cp", "/bin/busybox", bundle + "/rootfs/bin/busybox"});
  // Relative links: `busybox --install -s` would point them at the host's path.
  base::RunOptions list;
  list.argv = {"/bin/busybox", "--list"};
  auto applets = base::RunCommand(list);
  REQUIRE(applets.ok());
  for (absl::string_view applet : absl::StrSplit(applets->out, '\n', absl::SkipEmpty())) {
    if (applet == "busybox") continue;
    REQUIRE(::symlink("busybox", absl::StrCat(bundle, "/rootfs/bin/", applet).c_str()) == 0);
  }
  Tool({*umoci, "repack", "--image", layout + ":test", bundle});
  Tool({*umoci, "config", "--image", layout + ":test", "--config.cmd", "/bin/sh",
        "--config.env", "PATH=/bin"});
  const std::string tar = dir + "/busybox.tar";
  Tool({"/bin/tar", "-C", layout, "-cf", tar, "."});
  return tar;
}

// Containers outlive the agent by design, so a test that fails half-way would leave
// them (and their overlay mounts) behind: remove whatever is left, pass or fail.
class RemoveAllContainers {
 public:
  explicit RemoveAllContainers(const Cli& cli) : cli_(cli) {}
  ~RemoveAllContainers() {
    auto names = cli_.TryRun({"ps", "-a", "-q"});
    if (!names) return;
    for (absl::string_view name : absl::StrSplit(names->out, '\n', absl::SkipEmpty())) {
      cli_.TryRun({"rm", "-f", std::string(name)});
    }
  }

 private:
  const Cli& cli_;
};

bool IsCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

// Why this machine cannot run the OCI cases, or empty when it can.
std::string Unavailable() {
  if (!IsRoot()) return "not root";
  if (!base::FindExecutable("runc").ok()) return "runc is not installed";
  if (!base::FindExecutable("umoci").ok()) return "umoci is not installed";
  if (::access("/bin/busybox", X_OK) != 0) return "busybox-static is not installed";
  return "";
}

TEST_CASE("zlayerctl runs real containers on the OCI backend", "[integration][cli][oci][root]") {
  const std::string why = Unavailable();
  if (!why.empty()) {
    // CI has every prerequisite (scripts/install-deps.sh): missing is a failure there.
    if (IsCi()) FAIL("the OCI CLI test cannot run: " << why);
    WARN("skipped: " << why);
    return;
  }
  std::unique_ptr<AgentProcess> agent;
  // The agent, its bridge and its port rules live in a namespace of the test's own.
  std::unique_ptr<TestNetns> netns;
  auto config_dir = MakeTempDir("zt-clinet-");
  try {
    netns = std::make_unique<TestNetns>();
    AgentOptions options;
    options.backend = "oci";
    options.extra_args = {"--runtime", "runc", "--config",
                          NetworkAgentConfig(config_dir.path(), "10.75.0.0/24")};
    options.netns = netns->path();
    agent = std::make_unique<AgentProcess>(options);
  } catch (const std::exception& e) {
    if (IsCi()) FAIL("zlayer-agentd --backend oci does not start: " << e.what());
    WARN("skipped: zlayer-agentd --backend oci does not start here: " << e.what());
    return;
  }
  Cli cli("unix://" + agent->socket_path());
  RemoveAllContainers cleanup(cli);  // destroyed before the agent stops
  auto dir = MakeTempDir();
  // Named as deploy/examples/busybox-job.yaml expects it.
  CliResult r = cli.Run({"import", BuildBusyboxImage(dir.path()), "busybox:latest"});
  {
    INFO(Describe(r));
    REQUIRE(r.code == 0);
  }

  // A foreground run: output streamed, the container's exit code returned.
  r = cli.Run({"run", "--rm", "-q", "--pull", "never", "busybox:latest", "sh", "-c",
               "echo out; echo err >&2; exit 3"});
  INFO(Describe(r));
  CHECK(r.code == 3);
  CHECK(r.out == "out\n");
  CHECK(absl::StrContains(r.err, "err\n"));

  r = cli.Run({"run", "-d", "-q", "--pull", "never", "--name", "sleeper", "busybox:latest",
               "sleep", "1000"});
  REQUIRE(r.code == 0);
  r = cli.Run({"exec", "sleeper", "--", "sh", "-c", "echo inside; exit 5"});
  CHECK(r.code == 5);
  CHECK(r.out == "inside\n");
  r = cli.Run({"ps"});
  CHECK(absl::StrContains(r.out, "sleeper-rep-1"));
  CHECK(absl::StrContains(r.out, "PORTS"));

  // A published port: in ps, in inspect, and reachable on the agent's loopback.
  r = cli.Run(
      {"run", "-d", "-q", "--pull", "never", "--name", "webby", "-p", "18181:80", "busybox:latest",
       "sh", "-c",
       "mkdir -p /www && echo served-by-webby > /www/index.html && exec httpd -f -p 80 -h /www"});
  REQUIRE(r.code == 0);
  r = cli.Run({"ps"});
  CHECK(absl::StrContains(r.out, "0.0.0.0:18181->80/tcp"));
  r = cli.Run({"inspect", "webby"});
  CHECK(absl::StrContains(r.out, "10.75.0."));
  CHECK(absl::StrContains(r.out, "18181->80/tcp"));
  std::string page;
  for (int attempt = 0; attempt < 50 && !absl::StrContains(page, "served-by-webby"); ++attempt) {
    page = netns->Get("127.0.0.1", 18181);
    if (page.empty()) ::usleep(100'000);
  }
  CHECK(absl::StrContains(page, "served-by-webby"));
  r = cli.Run({"run", "-q", "--pull", "never", "--network", "none", "--rm", "busybox:latest", "sh",
               "-c", "ip -o link | grep -c eth0"});
  CHECK(r.out == "0\n");
  CHECK(cli.Run({"rm", "-f", "webby"}).code == 0);
  r = cli.Run({"stats", "--no-stream", "sleeper"});
  CHECK(r.code == 0);
  // sleep runs as the container's PID 1, which ignores SIGTERM: only SIGKILL ends it.
  CHECK(cli.Run({"kill", "sleeper"}).code == 0);
  r = cli.Run({"wait", "sleeper"});
  CHECK(r.code == 137);
  CHECK(r.out == "137 signal SIGKILL\n");
  CHECK(cli.Run({"rm", "sleeper"}).code == 0);

  // Supervision as ps shows it: the restart policy's count, and "restarting in"
  // while a restart is due (default backoff: 1 s, then 2 s).
  r = cli.Run({"run", "-d", "-q", "--pull", "never", "--name", "crashy", "--restart",
               "on-failure:2", "busybox:latest", "sh", "-c", "exit 1"});
  REQUIRE(r.code == 0);
  bool saw_waiting = false;
  REQUIRE(WaitFor(
      [&] {
        const std::string ps = cli.Run({"ps", "-a"}).out;
        if (absl::StrContains(ps, "restarting in") || absl::StrContains(ps, "restarting now")) {
          saw_waiting = true;
        }
        for (absl::string_view line : absl::StrSplit(ps, '\n')) {
          if (!absl::StartsWith(line, "crashy-rep-1")) continue;
          std::vector<absl::string_view> cells = absl::StrSplit(line, ' ', absl::SkipEmpty());
          // NAME IMAGE STATE... RESTARTS: the count follows the state's words.
          return absl::StrContains(line, "exited (1)") &&
                 !absl::StrContains(line, "restarting") &&
                 std::find(cells.begin(), cells.end(), "2") != cells.end();
        }
        return false;
      },
      absl::Seconds(30), absl::Milliseconds(100)));
  CHECK(saw_waiting);
  r = cli.Run({"inspect", "crashy"});
  CHECK(absl::StrContains(r.out, "on-failure limit reached (2 restarts)"));
  CHECK(cli.Run({"rm", "crashy"}).code == 0);
  // --init: PID 1 forwards SIGTERM, so sleep ends with the workload's signal.
  r = cli.Run({"run", "-d", "-q", "--pull", "never", "--name", "inited", "--init",
               "busybox:latest", "sleep", "1000"});
  REQUIRE(r.code == 0);
  CHECK(cli.Run({"kill", "-s", "TERM", "inited"}).code == 0);
  r = cli.Run({"wait", "inited"});
  CHECK(r.out == "143 signal SIGTERM\n");
  CHECK(cli.Run({"rm", "inited"}).code == 0);

  // A deployment from apply to down.
  r = cli.Run({"apply", "-f", SourcePath("deploy/examples/busybox-job.yaml")});
  INFO(Describe(r));
  REQUIRE(r.code == 0);
  CHECK(cli.Run({"wait", "once"}).out == "0 exited -\n");
  r = cli.Run({"apply", "-f", SourcePath("deploy/examples/busybox-job.yaml")});
  CHECK(absl::StrContains(r.out, "once-rep-1 unchanged: job finished: exited (0)"));
  CHECK(absl::StrContains(r.out, "ticker-rep-1 unchanged"));
  REQUIRE(WaitFor([&] { return absl::StrContains(cli.Run({"logs", "ticker"}).out, "20"); },
                  absl::Seconds(10)));
  CHECK(absl::StrContains(cli.Run({"logs", "once"}).out, "hello from a job"));
  r = cli.Run({"down", "-f", SourcePath("deploy/examples/busybox-job.yaml")});
  CHECK(r.code == 0);
  CHECK(cli.Run({"ps", "-a", "-q"}).out.empty());
}

}  // namespace
}  // namespace zlayer::testing
