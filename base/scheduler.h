// One thread that runs callbacks at given times: stats ticks, watchdog pings.
// Callbacks run on the scheduler thread and must be quick; post real work elsewhere.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace zlayer::base {

class Scheduler {
 public:
  using TaskId = uint64_t;

  explicit Scheduler(std::string name = "scheduler");
  // Drops pending tasks and joins the thread.
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  TaskId RunAt(absl::Time when, std::function<void()> fn);
  TaskId RunAfter(absl::Duration delay, std::function<void()> fn) {
    return RunAt(absl::Now() + delay, std::move(fn));
  }
  // Once Cancel returns, the task is not running and will not run.
  void Cancel(TaskId id);

 private:
  void Loop();

  absl::Mutex mu_;
  // Ordered by (time, id) so equal times run in submission order.
  std::map<std::pair<absl::Time, TaskId>, std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  TaskId next_id_ ABSL_GUARDED_BY(mu_) = 1;
  TaskId running_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace zlayer::base
