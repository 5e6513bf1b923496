#include "base/scheduler.h"

#include <pthread.h>

namespace zlayer::base {

Scheduler::Scheduler(std::string name) {
  thread_ = std::thread([this] { Loop(); });
  pthread_setname_np(thread_.native_handle(), name.substr(0, 15).c_str());
}

Scheduler::~Scheduler() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    tasks_.clear();
  }
  thread_.join();
}

Scheduler::TaskId Scheduler::RunAt(absl::Time when, std::function<void()> fn) {
  absl::MutexLock lock(&mu_);
  const TaskId id = next_id_++;
  tasks_.emplace(std::make_pair(when, id), std::move(fn));
  return id;
}

void Scheduler::Cancel(TaskId id) {
  absl::MutexLock lock(&mu_);
  for (auto it = tasks_.begin(); it != tasks_.end(); ++it) {
    if (it->first.second == id) {
      tasks_.erase(it);
      break;
    }
  }
  // A running task finishes before Cancel returns.
  auto not_running = [this, id]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return running_ != id; };
  mu_.Await(absl::Condition(&not_running));
}

void Scheduler::Loop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    if (tasks_.empty()) {
      auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !tasks_.empty();
      };
      mu_.Await(absl::Condition(&wake));
      continue;
    }
    auto first = tasks_.begin();
    const absl::Time when = first->first.first;
    if (absl::Now() < when) {
      // Wake early when an earlier task is added or we are stopping.
      const auto key = first->first;
      auto changed = [this, key]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || tasks_.empty() || tasks_.begin()->first < key;
      };
      mu_.AwaitWithDeadline(absl::Condition(&changed), when);
      continue;
    }
    std::function<void()> fn = std::move(first->second);
    running_ = first->first.second;
    tasks_.erase(first);
    mu_.Unlock();
    fn();
    mu_.Lock();
    running_ = 0;
  }
}

}  // namespace zlayer::base
