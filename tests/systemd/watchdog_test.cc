// The watchdog must stop when the agent is wedged, and only then. Uses
// zlayer-agentd-testhooks, a test build of the agent whose fault-injection hooks
// (agentd/test_hooks.h) block gRPC's callback threads or the work queue for a
// chosen time; the production binary has no such hooks.
#include <catch2/catch.hpp>
#include <signal.h>

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "sd_test_support.h"
#include "support/agent_process.h"
#include "support/test_support.h"

using namespace zlayer::testing;

namespace {

const char kPath[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

struct Pings {
  std::vector<absl::Time> pings;
  std::vector<Notification> statuses;
  // The longest time without a ping, counted from `from`.
  absl::Duration LongestGap(absl::Time from) const {
    absl::Duration longest;
    absl::Time prev = from;
    for (absl::Time t : pings) {
      if (t < from) continue;
      longest = std::max(longest, t - prev);
      prev = t;
    }
    return longest;
  }
};

// Every WATCHDOG=1 and STATUS= received until `until`.
Pings Watch(NotifySocket& notify, absl::Time until) {
  Pings out;
  while (absl::Now() < until) {
    auto n = notify.Next(until - absl::Now());
    if (!n) break;
    if (n->Has("WATCHDOG", "1")) out.pings.push_back(n->at);
    if (n->Has("STATUS")) out.statuses.push_back(*n);
  }
  return out;
}

// The test-hooks agent on the mock backend with two workers and the given
// queue_stall_timeout, under WATCHDOG_USEC=1s (a ping every 500 ms; systemd would
// kill it 1 s after the last one). Constructed once READY=1 has arrived.
struct WatchdogAgent {
  WatchdogAgent(const std::string& dir, const std::string& stall_timeout)
      : notify(dir + "/notify"),
        process(Options(dir, stall_timeout, notify, output)) {
    output.CloseWriteEnd();
    INFO(output.Text());
    REQUIRE(notify.WaitFor("READY", "1", absl::Seconds(20)));
    channel = grpc::CreateChannel("unix:" + dir + "/agentd.sock",
                                  grpc::InsecureChannelCredentials());
  }

  static LaunchOptions Options(const std::string& dir, const std::string& stall_timeout,
                               NotifySocket& notify, OutputCollector& output) {
    const std::string config = dir + "/agentd.yaml";
    std::ofstream(config) << "limits:\n  work_threads: 2\n  queue_stall_timeout: "
                          << stall_timeout << "\n";
    LaunchOptions launch;
    launch.argv = {AgentdTesthooksBin(), "--config", config, "--backend", "mock",
                   "--socket", dir + "/agentd.sock", "--data-dir", dir + "/data",
                   "--run-dir", dir + "/run"};
    launch.env = {kPath, notify.Env(), "WATCHDOG_USEC=1000000"};
    launch.watchdog_pid_self = true;
    launch.output_fd = output.write_fd();
    return launch;
  }

  NotifySocket notify;
  OutputCollector output;
  LaunchedProcess process;
  std::shared_ptr<grpc::Channel> channel;
};

}  // namespace

TEST_CASE("watchdog: pings stop while the agent is wedged and resume after",
          "[integration][systemd]") {
  auto dir = MakeTempDir("zt-sdg-");
  WatchdogAgent agent(dir.path(), "1s");
  auto& [notify, output, process, channel] = agent;
  INFO(output.Text());
  // Healthy first: two pings in a row.
  REQUIRE(notify.WaitFor("WATCHDOG", "1", absl::Seconds(5)));
  REQUIRE(notify.WaitFor("WATCHDOG", "1", absl::Seconds(5)));

  const absl::Duration wedge = absl::Seconds(4);
  std::string what;
  std::unique_ptr<GenericCalls> wedging;
  SECTION("gRPC's event loop: every callback thread blocked in a handler") {
    what = "the gRPC event loop has not answered";
    // Far more calls than gRPC has callback threads; each blocks the thread that
    // runs it until the same moment, 4 s from the first.
    wedging = std::make_unique<GenericCalls>(channel, "/zlayer.agentd.testing.Hooks/WedgeEventLoop",
                                             absl::StrCat("w1 ", absl::ToInt64Milliseconds(wedge)), 64,
                                             absl::Seconds(30));
  }
  SECTION("the work queue: every worker stuck, work waiting") {
    what = "the work queue has 1 waiting and 2 running tasks";
    wedging = std::make_unique<GenericCalls>(channel, "/zlayer.agentd.testing.Hooks/WedgeWorkQueue",
                                             absl::StrCat(absl::ToInt64Milliseconds(wedge)), 1,
                                             absl::Seconds(30));
  }
  const absl::Time wedged_at = absl::Now();
  // Watch the whole wedge, and long enough after it for pings to resume.
  const Pings seen = Watch(notify, wedged_at + wedge + absl::Seconds(3));
  REQUIRE(wedging->WaitAll(absl::Seconds(10)));
  for (const auto& r : wedging->Results()) CHECK(r.code == 0);

  // Pings stopped: a gap far beyond WATCHDOG_USEC, so systemd would have killed
  // and restarted the agent (WatchdogSec= with Restart=on-failure).
  const absl::Duration gap = seen.LongestGap(wedged_at);
  WARN("longest time without WATCHDOG=1: " << absl::FormatDuration(gap));
  CHECK(gap > absl::Seconds(2));
  // ...and the operator is told why, in `systemctl status`.
  bool explained = false;
  for (const auto& n : seen.statuses) {
    if (absl::StartsWith(n.Get("STATUS"), "unhealthy, withholding watchdog pings: ") &&
        absl::StrContains(n.Get("STATUS"), what)) {
      explained = true;
    }
  }
  CHECK(explained);
  CHECK(output.WaitForText("withholding watchdog ping: " + what, absl::Seconds(1)));
  // After the wedge, pings come again: the last pings are at the normal cadence.
  REQUIRE(seen.pings.size() >= 2);
  CHECK(seen.pings.back() > wedged_at + wedge);
  CHECK(output.WaitForText("watchdog pings resumed", absl::Seconds(5)));
  CHECK(process.Stop() == 0);
}

TEST_CASE("watchdog: a busy but working queue keeps the pings coming",
          "[integration][systemd]") {
  // Long tasks hold every worker with work waiting, but for less than
  // queue_stall_timeout: that is load, not a wedge.
  auto dir = MakeTempDir("zt-sdg-");
  WatchdogAgent agent(dir.path(), "10s");
  auto& [notify, output, process, channel] = agent;
  INFO(output.Text());
  REQUIRE(CallGeneric(channel, "/zlayer.agentd.testing.Hooks/WedgeWorkQueue", "3000").code == 0);
  const absl::Time busy_at = absl::Now();
  const Pings seen = Watch(notify, busy_at + absl::Seconds(3));
  CHECK(seen.LongestGap(busy_at) < absl::Seconds(1));
  CHECK(process.Stop() == 0);
}
