#include "base/work_queue.h"

#include <pthread.h>

namespace zlayer::base {

WorkQueue::WorkQueue(std::string name, size_t threads, size_t max_pending)
    : name_(std::move(name)), max_pending_(max_pending), last_progress_(absl::Now()) {
  if (threads == 0) threads = 1;
  threads_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) {
    threads_.emplace_back([this] { Worker(); });
    // Thread names show up in top -H and in core dumps; 15 chars max.
    pthread_setname_np(threads_.back().native_handle(), name_.substr(0, 15).c_str());
  }
}

WorkQueue::~WorkQueue() { Shutdown(); }

bool WorkQueue::Post(std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  if (stopping_ || tasks_.size() >= max_pending_) return false;
  tasks_.push_back(std::move(task));
  return true;
}

void WorkQueue::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

WorkQueue::Progress WorkQueue::GetProgress() const {
  absl::MutexLock lock(&mu_);
  return Progress{last_progress_, tasks_.size(), running_};
}

void WorkQueue::Worker() {
  for (;;) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !tasks_.empty();
      };
      // Wake now and then so that an idle pool still reports progress.
      while (!mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Seconds(1))) {
        last_progress_ = absl::Now();
      }
      if (tasks_.empty()) return;  // stopping, and nothing left to run
      task = std::move(tasks_.front());
      tasks_.pop_front();
      ++running_;
    }
    task();
    absl::MutexLock lock(&mu_);
    --running_;
    last_progress_ = absl::Now();
  }
}

}  // namespace zlayer::base
