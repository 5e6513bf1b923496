#include "agentd/systemd.h"

#include <fcntl.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "core/errors.h"

namespace zlayer::agentd {
namespace {

// The notification socket, resolved once by TakeSystemdEnvironment. Written only
// before threads start; read-only afterwards, so no lock.
struct Notifier {
  int fd = -1;
  sockaddr_un addr{};
  socklen_t addr_len = 0;
};
Notifier g_notifier;

// NOTIFY_SOCKET is an absolute path or, with a leading '@', an abstract address.
bool ResolveNotifySocket(const std::string& value, Notifier* out) {
  if (value.empty() || (value[0] != '/' && value[0] != '@')) return false;
  if (value.size() >= sizeof out->addr.sun_path) return false;
  out->addr.sun_family = AF_UNIX;
  std::memcpy(out->addr.sun_path, value.data(), value.size());
  if (value[0] == '@') out->addr.sun_path[0] = '\0';
  out->addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + value.size() +
                                         (value[0] == '/' ? 1 : 0));
  out->fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  return out->fd >= 0;
}

std::string OneLine(absl::string_view status) {
  return absl::StrReplaceAll(status, {{"\n", "; "}, {"\r", " "}});
}

std::string UnixSocketPath(int fd) {
  sockaddr_un addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return {};
  if (addr.sun_family != AF_UNIX || len <= offsetof(sockaddr_un, sun_path)) return {};
  if (addr.sun_path[0] == '\0') return {};  // abstract or unnamed
  return std::string(addr.sun_path, strnlen(addr.sun_path, sizeof addr.sun_path));
}

}  // namespace

absl::StatusOr<SystemdEnvironment> TakeSystemdEnvironment() {
  SystemdEnvironment env;

  if (const char* notify = std::getenv("NOTIFY_SOCKET")) {
    env.notify_socket = notify;
    ::unsetenv("NOTIFY_SOCKET");
    // An address we cannot use (vsock: from newer managers, garbage) leaves
    // notifications off rather than failing start-up.
    if (!ResolveNotifySocket(env.notify_socket, &g_notifier)) g_notifier = Notifier{};
  }

  // 1 = unset WATCHDOG_USEC and WATCHDOG_PID. sd_watchdog_enabled checks that
  // WATCHDOG_PID, when present, is our pid: a forwarded variable is not for us.
  uint64_t usec = 0;
  if (sd_watchdog_enabled(1, &usec) > 0 && usec > 0) {
    env.watchdog_interval = absl::Microseconds(usec) / 2;
  }

  // 1 = unset LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES. The fds themselves are
  // only ours when LISTEN_PID is our pid; sd_listen_fds checks that.
  const int n = sd_listen_fds(1);
  if (n < 0) return core::ErrnoStatus(-n, "socket activation: sd_listen_fds");
  for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; ++fd) {
    if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "socket activation: inherited fd ", fd,
          " is not a listening stream socket; the .socket unit must use ListenStream= and "
          "Accept=no"));
    }
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    env.listen_fds.push_back(fd);
    if (env.listen_path.empty()) env.listen_path = UnixSocketPath(fd);
  }

  env.stderr_is_journal = FdIsJournalStream(std::getenv("JOURNAL_STREAM"), STDERR_FILENO);
  return env;
}

bool SendNotification(absl::string_view text) {
  if (g_notifier.fd < 0) return false;
  for (;;) {
    const ssize_t n =
        ::sendto(g_notifier.fd, text.data(), text.size(), MSG_NOSIGNAL,
                 reinterpret_cast<const sockaddr*>(&g_notifier.addr), g_notifier.addr_len);
    if (n >= 0) return true;
    if (errno != EINTR) return false;
  }
}

void NotifyReady(absl::string_view status) {
  SendNotification(absl::StrCat("READY=1\nSTATUS=", OneLine(status)));
}

void NotifyStatus(absl::string_view status) {
  SendNotification(absl::StrCat("STATUS=", OneLine(status)));
}

void NotifyStopping(absl::string_view status) {
  SendNotification(absl::StrCat("STOPPING=1\nSTATUS=", OneLine(status)));
}

void NotifyReloading(absl::string_view status) {
  // systemd 253+ (Type=notify-reload) also wants MONOTONIC_USEC; 252 ignores it.
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  const uint64_t usec = static_cast<uint64_t>(ts.tv_sec) * 1'000'000 +
                        static_cast<uint64_t>(ts.tv_nsec) / 1000;
  SendNotification(
      absl::StrCat("RELOADING=1\nMONOTONIC_USEC=", usec, "\nSTATUS=", OneLine(status)));
}

void NotifyWatchdog() { SendNotification("WATCHDOG=1"); }

bool FdIsJournalStream(const char* journal_stream, int fd) {
  if (journal_stream == nullptr) return false;
  std::vector<std::string> parts = absl::StrSplit(journal_stream, ':');
  uint64_t dev, ino;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &dev) ||
      !absl::SimpleAtoi(parts[1], &ino)) {
    return false;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) return false;
  return st.st_dev == dev && st.st_ino == ino;
}

}  // namespace zlayer::agentd
