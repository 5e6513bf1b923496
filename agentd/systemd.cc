#include "agentd/systemd.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/errors.h"

namespace zlayer::agentd {

void NotifyReady(const std::string& status) {
  sd_notify(0, absl::StrCat("READY=1\nSTATUS=", status).c_str());
}

void NotifyStatus(const std::string& status) {
  sd_notify(0, absl::StrCat("STATUS=", status).c_str());
}

void NotifyStopping(const std::string& status) {
  sd_notify(0, absl::StrCat("STOPPING=1\nSTATUS=", status).c_str());
}

void NotifyReloading() {
  // systemd 253+ also wants MONOTONIC_USEC; 252 (bookworm) ignores it.
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const uint64_t usec = static_cast<uint64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
  sd_notify(0, absl::StrCat("RELOADING=1\nMONOTONIC_USEC=", usec).c_str());
}

void NotifyWatchdog() { sd_notify(0, "WATCHDOG=1"); }

std::optional<absl::Duration> WatchdogPingInterval() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return absl::Microseconds(usec) / 2;
}

absl::StatusOr<std::vector<int>> TakeInheritedSockets() {
  const int n = sd_listen_fds(1);  // 1: unset LISTEN_* so children do not inherit them
  if (n < 0) return base::ErrnoStatus(-n, "sd_listen_fds");
  std::vector<int> fds;
  for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; ++fd) {
    if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "inherited fd ", fd, " is not a listening stream socket; check the .socket unit"));
    }
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    fds.push_back(fd);
  }
  return fds;
}

bool StderrIsJournal() {
  const char* env = std::getenv("JOURNAL_STREAM");
  if (env == nullptr) return false;
  std::vector<std::string> parts = absl::StrSplit(env, ':');
  uint64_t dev, ino;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &dev) || !absl::SimpleAtoi(parts[1], &ino)) {
    return false;
  }
  struct stat st;
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  return st.st_dev == dev && st.st_ino == ino;
}

}  // namespace zlayer::agentd
