// OOM kills of a container, for the per-container monitor: the counter to compare
// and a descriptor to wait on.
//
// The counter is "oom_kill" in v2 memory.events or in v1 memory.oom_control; it
// counts processes the OOM killer killed in this cgroup (and, on v2, below it).
// The monitor reads it when the container starts and again after reaping the init,
// before anything deletes the cgroup: a larger value means the container was
// OOM-killed, whatever the notifications said. The notification only lets it report
// an OOM kill of a non-init process while the container keeps running.
//
// Notification:
// - v2: inotify IN_MODIFY on memory.events. The kernel notifies after each counter
//   change (rate-limited to one event per 10 ms, never dropped), so the counter is
//   already updated when the event arrives. conmon does the same.
// - v1: an eventfd registered through cgroup.event_control on memory.oom_control.
//   The kernel signals it when the cgroup enters OOM, which is *before* the killer
//   has picked and killed a victim, so the counter may still show the old value;
//   re-read it a little later or at exit. The eventfd is also signalled when the
//   cgroup is removed (Check() then returns NOT_FOUND).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "base/unique_fd.h"
#include "cgroups/locate.h"

namespace zlayer::cgroups {

enum class OomNotifier {
  kInotify,  // v2 memory.events
  kEventfd,  // v1 cgroup.event_control + memory.oom_control
};

// The file carrying the counter for `paths`: "<unified>/memory.events" when the
// memory controller is on v2, else "<memory>/memory.oom_control".
// FAILED_PRECONDITION when the cgroup has no memory controller; NOT_FOUND when
// the directory is gone.
absl::StatusOr<std::string> OomKillCounterFile(const CgroupPaths& paths);

// Reads the counter once. NOT_FOUND when the cgroup is gone.
absl::StatusOr<uint64_t> ReadOomKillCount(const CgroupPaths& paths);

// Not thread-safe: owned and polled by one thread (the monitor's event loop).
class OomWatcher {
 public:
  // Needs write access to cgroup.event_control on v1 (root).
  static absl::StatusOr<std::unique_ptr<OomWatcher>> Create(const CgroupPaths& paths);

  // Readable (POLLIN) when a memory event may have happened; add it to epoll.
  int fd() const { return notify_fd_.get(); }
  OomNotifier notifier() const { return notifier_; }
  const std::string& counter_file() const { return counter_file_; }
  // The counter when the watcher was created.
  uint64_t initial_count() const { return initial_count_; }

  // Drains pending notifications (never blocks) and returns the counter's current
  // value. NOT_FOUND once the cgroup is gone.
  absl::StatusOr<uint64_t> Check();

 private:
  OomWatcher() = default;

  OomNotifier notifier_ = OomNotifier::kInotify;
  std::string counter_file_;
  base::UniqueFd notify_fd_;   // inotify or eventfd
  base::UniqueFd counter_fd_;  // kept open: re-read with pread, no lookups
  uint64_t initial_count_ = 0;
};

}  // namespace zlayer::cgroups
