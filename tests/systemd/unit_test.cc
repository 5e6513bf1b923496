// Unit tests of the agent's systemd pieces: the watchdog's verdict, journal
// fields, JOURNAL_STREAM matching, and the environment hand-over.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "agentd/journal_sink.h"
#include "agentd/systemd.h"
#include "agentd/watchdog.h"
#include "base/unique_fd.h"
#include "support/test_support.h"

using namespace zlayer::agentd;
using zlayer::testing::MakeTempDir;

namespace {

LivenessOptions TenSecondProbes() {
  LivenessOptions options;
  options.interval = absl::Seconds(10);
  options.queue_stall_timeout = absl::Minutes(5);
  return options;
}

}  // namespace

TEST_CASE("JudgeLiveness: the event loop must have answered within 1.5 intervals", "[unit]") {
  const LivenessOptions options = TenSecondProbes();
  const absl::Time now = absl::FromUnixSeconds(1'000'000);
  LivenessInput in;
  in.now = now;
  in.queue = {now - absl::Hours(1), /*pending=*/0, /*running=*/0};

  in.last_probe_ok = now - absl::Seconds(10);  // the previous tick's probe
  CHECK(JudgeLiveness(in, options).empty());
  in.last_probe_ok = now - absl::Seconds(15);  // jitter allowed up to here
  CHECK(JudgeLiveness(in, options).empty());
  in.last_probe_ok = now - absl::Seconds(16);  // the previous probe never came back
  CHECK(JudgeLiveness(in, options) ==
        "the gRPC event loop has not answered a health check for 16s");
}

TEST_CASE("JudgeLiveness: waiting work must finish within queue_stall_timeout", "[unit]") {
  const LivenessOptions options = TenSecondProbes();
  const absl::Time now = absl::FromUnixSeconds(1'000'000);
  LivenessInput in;
  in.now = now;
  in.last_probe_ok = now - absl::Seconds(1);

  SECTION("an idle queue is fine however long ago it last ran") {
    in.queue = {now - absl::Hours(5), 0, 0};
    CHECK(JudgeLiveness(in, options).empty());
  }
  SECTION("long tasks with nothing waiting are fine") {
    in.queue = {now - absl::Hours(1), 0, 8};
    CHECK(JudgeLiveness(in, options).empty());
  }
  SECTION("busy: work waits, but something finished recently") {
    in.queue = {now - absl::Minutes(4), 3, 8};
    CHECK(JudgeLiveness(in, options).empty());
  }
  SECTION("wedged: work waits and nothing finished for longer than the bound") {
    in.queue = {now - absl::Minutes(6), 3, 8};
    CHECK(JudgeLiveness(in, options) ==
          "the work queue has 3 waiting and 8 running tasks and has finished none for 6m");
  }
}

TEST_CASE("journal fields: PRIORITY per level, CONTAINER_ID/SERVICE/DEPLOYMENT from the line",
          "[unit]") {
  auto fields = JournalFields(spdlog::level::warn, "oci",
                              "start failed container_id=web-rep-2 service=web "
                              "deployment=prod error=boom");
  CHECK(fields == std::vector<std::string>{
                      "MESSAGE=oci: start failed container_id=web-rep-2 service=web "
                      "deployment=prod error=boom",
                      "PRIORITY=4", "SYSLOG_IDENTIFIER=zlayer-agentd", "ZLAYER_MODULE=oci",
                      "CONTAINER_ID=web-rep-2", "SERVICE=web", "DEPLOYMENT=prod"});

  fields = JournalFields(spdlog::level::info, "agentd", "ready");
  CHECK(fields == std::vector<std::string>{"MESSAGE=agentd: ready", "PRIORITY=6",
                                           "SYSLOG_IDENTIFIER=zlayer-agentd",
                                           "ZLAYER_MODULE=agentd"});

  CHECK(JournalPriority(spdlog::level::trace) == LOG_DEBUG);
  CHECK(JournalPriority(spdlog::level::debug) == LOG_DEBUG);
  CHECK(JournalPriority(spdlog::level::info) == LOG_INFO);
  CHECK(JournalPriority(spdlog::level::warn) == LOG_WARNING);
  CHECK(JournalPriority(spdlog::level::err) == LOG_ERR);
  CHECK(JournalPriority(spdlog::level::critical) == LOG_CRIT);
}

TEST_CASE("FieldValue matches whole keys only", "[unit]") {
  CHECK(FieldValue("a service=web b", "service") == "web");
  CHECK(FieldValue("service=web", "service") == "web");
  CHECK(FieldValue("x container_id=db-rep-1", "container_id") == "db-rep-1");
  CHECK(FieldValue("xservice=web", "service").empty());
  CHECK(FieldValue("service_name=web", "service").empty());
  CHECK(FieldValue("no fields here", "service").empty());
  CHECK(FieldValue("service", "service").empty());
  CHECK(FieldValue("service= x", "service").empty());
  // The first whole match wins.
  CHECK(FieldValue("myservice=a service=b service=c", "service") == "b");
}

TEST_CASE("JOURNAL_STREAM selects the journal only when it names our stderr", "[unit]") {
  auto dir = MakeTempDir("zt-sdj-");
  zlayer::base::UniqueFd fd(::open((dir.path() + "/f").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600));
  REQUIRE(fd);
  struct stat st;
  REQUIRE(::fstat(fd.get(), &st) == 0);
  const std::string match = absl::StrCat(st.st_dev, ":", st.st_ino);
  CHECK(FdIsJournalStream(match.c_str(), fd.get()));
  CHECK_FALSE(FdIsJournalStream(nullptr, fd.get()));
  CHECK_FALSE(FdIsJournalStream("", fd.get()));
  CHECK_FALSE(FdIsJournalStream(absl::StrCat(st.st_dev, ":", st.st_ino + 1).c_str(), fd.get()));
  CHECK_FALSE(FdIsJournalStream(absl::StrCat(st.st_dev, "-", st.st_ino).c_str(), fd.get()));
  CHECK_FALSE(FdIsJournalStream("garbage", fd.get()));
  // Output redirected elsewhere (a shell in a unit: `exec >file`): not the journal.
  CHECK_FALSE(FdIsJournalStream(match.c_str(), -1));
}

TEST_CASE("TakeSystemdEnvironment scrubs NOTIFY_SOCKET and sends to abstract sockets",
          "[unit]") {
  // An abstract-namespace notification socket, as systemd's own NOTIFY_SOCKET
  // sometimes is ("@/org/freedesktop/systemd1/notify/...").
  const std::string name = absl::StrCat("zlayer-test-notify-", ::getpid());
  zlayer::base::UniqueFd sock(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  REQUIRE(sock);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  REQUIRE(::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr),
                 static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size())) == 0);

  ::setenv("NOTIFY_SOCKET", ("@" + name).c_str(), 1);
  ::setenv("WATCHDOG_USEC", "2000000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  auto env = TakeSystemdEnvironment();
  REQUIRE(env.ok());
  // Children must not inherit them (runc would proxy NOTIFY_SOCKET into the
  // container and wait for the container's READY=1).
  CHECK(std::getenv("NOTIFY_SOCKET") == nullptr);
  CHECK(std::getenv("WATCHDOG_USEC") == nullptr);
  CHECK(std::getenv("WATCHDOG_PID") == nullptr);
  CHECK(env->notify_socket == "@" + name);
  REQUIRE(env->watchdog_interval.has_value());
  CHECK(*env->watchdog_interval == absl::Seconds(1));
  CHECK(env->listen_fds.empty());

  // Multi-line text stays one STATUS= assignment.
  NotifyStatus("line one\nline two");
  char buf[512];
  const ssize_t n = ::recv(sock.get(), buf, sizeof buf, MSG_DONTWAIT);
  REQUIRE(n > 0);
  CHECK(std::string(buf, static_cast<size_t>(n)) == "STATUS=line one; line two");
}
