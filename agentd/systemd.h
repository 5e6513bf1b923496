// The systemd side of the daemon: readiness and status notifications, the
// watchdog, inherited sockets, and the journal.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace zlayer::agentd {

// sd_notify wrappers; no-ops when NOTIFY_SOCKET is unset.
void NotifyReady(const std::string& status);
void NotifyStatus(const std::string& status);
void NotifyStopping(const std::string& status);
void NotifyReloading();
void NotifyWatchdog();

// Half of WATCHDOG_USEC when the watchdog is on for this process, else nullopt.
std::optional<absl::Duration> WatchdogPingInterval();

// Listening sockets passed by systemd (LISTEN_FDS / LISTEN_PID), made CLOEXEC and
// removed from the environment so children do not see them.
absl::StatusOr<std::vector<int>> TakeInheritedSockets();

// True when stderr is connected to the journal (JOURNAL_STREAM matches it).
bool StderrIsJournal();

}  // namespace zlayer::agentd
