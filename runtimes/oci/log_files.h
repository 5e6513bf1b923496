// Reading the CRI log files a monitor writes: tail, all, and follow across
// rotation. The monitor is the only writer; it rotates between whole records, so a
// reader that finishes the old file before moving to the new one misses nothing.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "base/event_loop.h"
#include "base/unique_fd.h"
#include "core/log_cursor.h"
#include "core/types.h"

namespace zlayer::oci {

// One container's log: <dir>/container.log plus rotated container.log.1 (newest)
// up to container.log.<max_files>.
struct LogFileSet {
  std::string dir;
  int max_files = 3;
  // What every entry carries besides what the line holds.
  core::LogSource source;
  std::optional<std::string> service;
  std::optional<std::string> deployment;

  std::string Live() const { return dir + "/container.log"; }
  // Rotated files first (oldest first), then the live one.
  std::vector<std::string> OldestFirst() const;
};

// Appends one whole line of the agent's own to a container's live log, in the
// monitor's format, so readers show it in order: restarts, init steps. Only while no
// monitor of the container runs, since the monitor is the writer otherwise.
absl::Status AppendLogMarker(const std::string& live_path, std::string_view text);

// Parses "<time> <stream> <P|F> <text>"; false for a malformed line.
bool ParseCriLine(std::string_view line, core::LogEntry* entry);

// The last `tail` entries (0 = all) at or after `since`.
absl::StatusOr<std::vector<core::LogEntry>> ReadLogs(const LogFileSet& files, uint32_t tail,
                                                     std::optional<absl::Time> since);

// Wakes log followers when a directory changes: one inotify descriptor for all
// followed logs, on the backend's event loop.
class LogNotifier {
 public:
  static absl::StatusOr<std::unique_ptr<LogNotifier>> Create(base::EventLoop* loop);
  ~LogNotifier();

  using Token = uint64_t;
  // Calls `fn` once, on the loop thread, at the next change in `dir`.
  Token ArmOnce(const std::string& dir, std::function<void()> fn);
  // Once it returns, the callback is not running and will not run.
  void Disarm(Token token);

 private:
  LogNotifier() = default;
  void OnEvents();

  base::EventLoop* loop_ = nullptr;
  base::UniqueFd inotify_;
  base::EventLoop::Handle handle_ = 0;
  absl::Mutex mu_;
  struct Armed {
    int wd;
    std::function<void()> fn;
  };
  absl::flat_hash_map<Token, Armed> armed_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> wd_by_dir_ ABSL_GUARDED_BY(mu_);
  Token next_ ABSL_GUARDED_BY(mu_) = 1;
};

// Tells a cursor whether the container can still write, and wakes it when that
// changes (the container exited, and its monitor drained the output first).
class ExitSignal {
 public:
  virtual ~ExitSignal() = default;
  virtual bool Exited() = 0;
  // Calls `fn` once when Exited() becomes true (at once if it is).
  virtual void OnExit(std::function<void()> fn) = 0;
};

std::unique_ptr<core::LogCursor> OpenLogCursor(LogFileSet files, const core::LogQuery& query,
                                               LogNotifier* notifier,
                                               std::unique_ptr<ExitSignal> exit_signal);

}  // namespace zlayer::oci
