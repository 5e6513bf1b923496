// The systemd side of the daemon: readiness and status notifications, the
// watchdog, inherited sockets, and the journal.
//
// Everything systemd hands us arrives in the environment. TakeSystemdEnvironment()
// reads it once, at start-up and before any thread exists (setenv/unsetenv are not
// thread-safe), and removes it: the agent's children must never see NOTIFY_SOCKET
// (runc proxies it into the container and then waits for the container's READY=1),
// nor LISTEN_FDS or WATCHDOG_* meant for this process.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace zlayer::agentd {

struct SystemdEnvironment {
  // Half of WATCHDOG_USEC when the watchdog is on for this process (WATCHDOG_PID,
  // when set, names us), else nullopt.
  std::optional<absl::Duration> watchdog_interval;
  // Listening stream sockets passed by socket activation (LISTEN_FDS, for our
  // LISTEN_PID), made CLOEXEC; empty when not socket-activated.
  std::vector<int> listen_fds;
  // The path of the first inherited unix socket, if any (for logs and for the
  // socket mounted into containers).
  std::string listen_path;
  // NOTIFY_SOCKET as found ("" when unset).
  std::string notify_socket;
  // stderr is connected to the journal (JOURNAL_STREAM names its device and inode).
  bool stderr_is_journal = false;
};

// Reads and scrubs the environment described above and opens the notification
// socket. Call once, from main, before any thread is started. Fails only on a
// malformed LISTEN_FDS hand-over (an inherited fd that is not a listening stream
// socket): serving on it would be wrong, and systemd should see us fail.
absl::StatusOr<SystemdEnvironment> TakeSystemdEnvironment();

// Notifications to the service manager (sd_notify(3) protocol). No-ops when
// NOTIFY_SOCKET was unset. `status` is one human-readable line; newlines are
// replaced, since each line of a notification is a separate assignment.
void NotifyReady(absl::string_view status);
void NotifyStatus(absl::string_view status);
void NotifyStopping(absl::string_view status);
void NotifyReloading(absl::string_view status);
void NotifyWatchdog();

// Sends `text` verbatim as one notification datagram; false when there is no
// notification socket or the send failed. Exposed for tests.
bool SendNotification(absl::string_view text);

// True when JOURNAL_STREAM ("DEV:INODE") names the file open on `fd`.
bool FdIsJournalStream(const char* journal_stream, int fd);

}  // namespace zlayer::agentd
