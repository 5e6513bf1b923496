// One epoll thread that owns readiness callbacks for descriptors: monitor pidfds,
// inotify, exec pipes. Callbacks run on the loop thread and must not block.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "base/unique_fd.h"

namespace zlayer::base {

class EventLoop {
 public:
  using Handle = uint64_t;
  // Called with the epoll events that fired (EPOLLIN, EPOLLHUP, ...).
  using Callback = std::function<void(uint32_t events)>;

  static absl::StatusOr<std::unique_ptr<EventLoop>> Create(const std::string& name);
  // Stops the thread; registered descriptors are not closed (their owners do that).
  ~EventLoop();

  // Watches `fd` (level-triggered) until Remove. The loop does not own `fd`.
  absl::StatusOr<Handle> Add(int fd, uint32_t events, Callback callback);
  // Once Remove returns, the callback is not running and will not run again, unless
  // Remove is called from that very callback (then it just will not run again).
  void Remove(Handle handle);
  // Runs `fn` on the loop thread soon.
  void Post(std::function<void()> fn);

  bool InLoopThread() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  EventLoop() = default;
  void Run();

  UniqueFd epoll_;
  UniqueFd wake_;  // eventfd for Post and shutdown
  std::thread thread_;
  absl::Mutex mu_;
  struct Entry {
    int fd;
    std::shared_ptr<Callback> callback;
  };
  absl::flat_hash_map<Handle, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void()>> posted_ ABSL_GUARDED_BY(mu_);
  Handle next_ ABSL_GUARDED_BY(mu_) = 1;
  Handle running_ ABSL_GUARDED_BY(mu_) = 0;  // callback in progress
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace zlayer::base
