// Logging under journald. There is no journald here (PID 1 is not systemd), so the
// test plays it: the agent runs in a private mount namespace whose /run/systemd is
// a directory of the test's, and /run/systemd/journal/socket is a datagram socket
// the test reads. That checks what sd_journal_sendv really sends: the native
// protocol's fields. (The QEMU guest suite checks journalctl on a real journal.)
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/fs_util.h"
#include "base/unique_fd.h"
#include "sd_test_support.h"
#include "support/test_support.h"

using namespace zlayer::testing;

namespace {

const char kPath[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

using Entry = std::map<std::string, std::string>;

// journald's native protocol: "KEY=VALUE\n", or for values with newlines
// "KEY\n" + little-endian u64 length + value + "\n".
Entry ParseNative(const std::string& d) {
  Entry e;
  size_t i = 0;
  while (i < d.size()) {
    const size_t nl = d.find('\n', i);
    const std::string line = d.substr(i, nl == std::string::npos ? std::string::npos : nl - i);
    if (const auto eq = line.find('='); eq != std::string::npos) {
      e[line.substr(0, eq)] = line.substr(eq + 1);
      i = nl == std::string::npos ? d.size() : nl + 1;
      continue;
    }
    uint64_t len = 0;
    std::memcpy(&len, d.data() + nl + 1, sizeof len);
    e[line] = d.substr(nl + 1 + sizeof len, len);
    i = nl + 1 + sizeof len + len + 1;
  }
  return e;
}

class FakeJournal {
 public:
  explicit FakeJournal(const std::string& run_systemd) {
    REQUIRE(zlayer::base::MakeDirs(run_systemd + "/journal", 0755).ok());
    fd_.Reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = run_systemd + "/journal/socket";
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    REQUIRE(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  // Entries until one whose MESSAGE contains `text`; that one, or nullopt.
  std::optional<Entry> WaitForMessage(const std::string& text, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      struct pollfd pfd = {fd_.get(), POLLIN, 0};
      const auto ms = absl::ToInt64Milliseconds(deadline - absl::Now());
      if (::poll(&pfd, 1, static_cast<int>(std::max<int64_t>(ms, 0))) <= 0) break;
      char buf[65536];
      const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0) continue;
      Entry e = ParseNative(std::string(buf, static_cast<size_t>(n)));
      entries_.push_back(e);
      if (absl::StrContains(e["MESSAGE"], text)) return e;
    }
    return std::nullopt;
  }

 private:
  zlayer::base::UniqueFd fd_;
  std::vector<Entry> entries_;
};

struct JournalAgent {
  // `journal_stream`: set JOURNAL_STREAM to the agent's stderr, as systemd does.
  JournalAgent(const std::string& root, bool journal_stream)
      : notify(root + "/notify"), socket(root + "/agentd.sock") {
    LaunchOptions launch;
    launch.argv = {AgentdTesthooksBin(), "--backend", "mock", "--socket", socket,
                   "--data-dir", root + "/data", "--run-dir", root + "/run"};
    launch.env = {kPath, notify.Env()};
    launch.journal_stream = journal_stream;
    launch.private_run_systemd = root + "/run-systemd";
    launch.output_fd = output.write_fd();
    process.emplace(launch);
    output.CloseWriteEnd();
  }
  bool Ready() { return notify.WaitFor("READY", "1", absl::Seconds(20)).has_value(); }
  void Log(const std::string& level_and_text) {
    auto channel = grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials());
    const auto r = CallGeneric(channel, "/zlayer.agentd.testing.Hooks/Log", level_and_text);
    INFO(r.message << "\n" << output.Text());
    REQUIRE(r.code == 0);
  }

  NotifySocket notify;
  std::string socket;
  OutputCollector output;
  std::optional<LaunchedProcess> process;
};

}  // namespace

#define SKIP_UNLESS_ROOT()                                                        \
  do {                                                                            \
    if (!IsRoot()) {                                                              \
      WARN("skipped: needs root for a private mount namespace over /run/systemd"); \
      return;                                                                     \
    }                                                                             \
  } while (0)

TEST_CASE("journal: with JOURNAL_STREAM, lines go to the journal with structured fields",
          "[root][systemd]") {
  SKIP_UNLESS_ROOT();
  auto dir = MakeTempDir("zt-sdj-");
  FakeJournal journal(dir.path() + "/run-systemd");
  JournalAgent agent(dir.path(), /*journal_stream=*/true);
  INFO(agent.output.Text());
  REQUIRE(agent.Ready());

  auto ready = journal.WaitForMessage("zlayer-agentd " ZLAYER_VERSION " ready", absl::Seconds(5));
  REQUIRE(ready);
  CHECK((*ready)["MESSAGE"] == "agentd: zlayer-agentd " ZLAYER_VERSION " ready");
  CHECK((*ready)["PRIORITY"] == "6");
  CHECK((*ready)["SYSLOG_IDENTIFIER"] == "zlayer-agentd");
  CHECK((*ready)["ZLAYER_MODULE"] == "agentd");
  CHECK(ready->count("CONTAINER_ID") == 0);

  agent.Log("warn container restarted container_id=web-rep-2 service=web deployment=prod");
  auto line = journal.WaitForMessage("container restarted", absl::Seconds(5));
  REQUIRE(line);
  CHECK((*line)["PRIORITY"] == "4");
  CHECK((*line)["CONTAINER_ID"] == "web-rep-2");
  CHECK((*line)["SERVICE"] == "web");
  CHECK((*line)["DEPLOYMENT"] == "prod");

  agent.Log("error monitor lost container_id=db-rep-1 service=db");
  line = journal.WaitForMessage("monitor lost", absl::Seconds(5));
  REQUIRE(line);
  CHECK((*line)["PRIORITY"] == "3");
  CHECK((*line)["CONTAINER_ID"] == "db-rep-1");
  CHECK(line->count("DEPLOYMENT") == 0);

  CHECK(agent.process->Stop() == 0);
  // Nothing went to stderr: the journal had every line.
  CHECK_FALSE(absl::StrContains(agent.output.Text(), "container restarted"));
}

TEST_CASE("journal: journald unreachable, lines go to stderr with <N> priority prefixes",
          "[root][systemd]") {
  SKIP_UNLESS_ROOT();
  auto dir = MakeTempDir("zt-sdj-");
  SECTION("no journal socket") {
    REQUIRE(zlayer::base::MakeDirs(dir.path() + "/run-systemd/journal", 0755).ok());
  }
  SECTION("a journal socket nobody reads (journald restarting)") {
    // The file stays when the socket closes: sends are refused (ECONNREFUSED).
    FakeJournal gone(dir.path() + "/run-systemd");
  }
  JournalAgent agent(dir.path(), /*journal_stream=*/true);
  INFO(agent.output.Text());
  REQUIRE(agent.Ready());
  // journald's stream reader turns "<6>" into PRIORITY=6; no timestamps, it adds them.
  CHECK(agent.output.WaitForText("<6>agentd: zlayer-agentd " ZLAYER_VERSION " ready\n",
                                 absl::Seconds(5)));
  agent.Log("warn disk slow service=web");
  CHECK(agent.output.WaitForText("<4>agentd: disk slow service=web\n", absl::Seconds(5)));
  CHECK(agent.process->Stop() == 0);
  INFO(agent.output.Text());
  CHECK_FALSE(absl::StrContains(agent.output.Text(), "Z info agentd"));
}

TEST_CASE("journal: without JOURNAL_STREAM, stderr gets timestamped lines", "[root][systemd]") {
  SKIP_UNLESS_ROOT();
  auto dir = MakeTempDir("zt-sdj-");
  // A journal is reachable, but stderr is not connected to it: not ours to use.
  FakeJournal journal(dir.path() + "/run-systemd");
  JournalAgent agent(dir.path(), /*journal_stream=*/false);
  INFO(agent.output.Text());
  REQUIRE(agent.Ready());
  REQUIRE(agent.output.WaitForText(" info agentd: zlayer-agentd " ZLAYER_VERSION " ready",
                                   absl::Seconds(5)));
  const std::string text = agent.output.Text();
  const auto pos = text.find(" info agentd: zlayer-agentd");
  const auto bol = text.rfind('\n', pos) == std::string::npos ? 0 : text.rfind('\n', pos) + 1;
  const std::string stamp = text.substr(bol, pos - bol);
  // 2024-05-01T12:00:00.123456Z
  CHECK(stamp.size() == 27);
  CHECK(stamp[4] == '-');
  CHECK(stamp[10] == 'T');
  CHECK(stamp.back() == 'Z');
  CHECK_FALSE(journal.WaitForMessage("ready", absl::Milliseconds(200)));
  CHECK(agent.process->Stop() == 0);
}
