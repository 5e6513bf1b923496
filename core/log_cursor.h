// Pull-based reading of a container's log, so a slow client never makes the agent
// buffer a whole log file: the stream asks for the next batch only after the
// previous one was written.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "core/types.h"

namespace zlayer::core {

class LogCursor {
 public:
  virtual ~LogCursor() = default;

  // Up to `max` entries available now; empty when caught up. Never waits for the
  // container to write more.
  virtual absl::StatusOr<std::vector<LogEntry>> Next(size_t max) = 0;
  // True once Next will never return anything again (not following, or following a
  // container that has exited, and everything has been read).
  virtual bool Done() = 0;
  // Calls `ready` once, from a backend thread, when Next may return more entries or
  // Done may have changed; at once if that is already so. A new Arm replaces an
  // earlier one. After the cursor is destroyed, `ready` never runs.
  virtual void Arm(std::function<void()> ready) = 0;
};

// A finished list of entries: what backends without live logs return.
std::unique_ptr<LogCursor> MakeVectorLogCursor(std::vector<LogEntry> entries);

}  // namespace zlayer::core
