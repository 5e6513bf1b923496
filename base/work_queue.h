// A fixed pool of threads for blocking work: runtime CLI calls, pulls, disk I/O.
// gRPC reactions must never block, so they post here instead.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace zlayer::base {

class WorkQueue {
 public:
  // `threads` workers; at most `max_pending` queued tasks before Post refuses.
  WorkQueue(std::string name, size_t threads, size_t max_pending = 10000);
  // Runs every task already queued, then joins the workers.
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // False when the queue is full or shutting down; the task is then not run.
  [[nodiscard]] bool Post(std::function<void()> task);

  // Stops accepting tasks, finishes the queued ones and joins the workers.
  void Shutdown();

  // When a worker last finished a task or found the queue empty, and whether work is
  // waiting: lets the watchdog tell a busy pool from a wedged one.
  struct Progress {
    absl::Time last_progress;
    size_t pending;
    size_t running;
  };
  Progress GetProgress() const;

 private:
  void Worker();

  const std::string name_;
  const size_t max_pending_;
  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  size_t running_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_progress_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

}  // namespace zlayer::base
