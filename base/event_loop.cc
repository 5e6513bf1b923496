#include "base/event_loop.h"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "core/errors.h"

namespace zlayer::base {

namespace {
constexpr uint64_t kWakeTag = 0;  // handles start at 1
}

absl::StatusOr<std::unique_ptr<EventLoop>> EventLoop::Create(const std::string& name) {
  std::unique_ptr<EventLoop> loop(new EventLoop());
  loop->epoll_.Reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!loop->epoll_) return core::ErrnoError("epoll_create1");
  loop->wake_.Reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!loop->wake_) return core::ErrnoError("eventfd");
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeTag;
  if (::epoll_ctl(loop->epoll_.get(), EPOLL_CTL_ADD, loop->wake_.get(), &ev) != 0) {
    return core::ErrnoError("epoll_ctl wake");
  }
  loop->thread_ = std::thread([raw = loop.get()] { raw->Run(); });
  pthread_setname_np(loop->thread_.native_handle(), name.substr(0, 15).c_str());
  return loop;
}

EventLoop::~EventLoop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  const uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<EventLoop::Handle> EventLoop::Add(int fd, uint32_t events, Callback callback) {
  absl::MutexLock lock(&mu_);
  const Handle h = next_++;
  struct epoll_event ev = {};
  ev.events = events;
  ev.data.u64 = h;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
    return core::ErrnoError(absl::StrCat("epoll_ctl add fd ", fd));
  }
  entries_.emplace(h, Entry{fd, std::make_shared<Callback>(std::move(callback))});
  return h;
}

void EventLoop::Remove(Handle handle) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(handle);
  if (it == entries_.end()) return;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->second.fd, nullptr);
  entries_.erase(it);
  if (InLoopThread()) return;
  auto idle = [this, handle]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return running_ != handle; };
  mu_.Await(absl::Condition(&idle));
}

void EventLoop::Post(std::function<void()> fn) {
  {
    absl::MutexLock lock(&mu_);
    posted_.push_back(std::move(fn));
  }
  const uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
}

void EventLoop::Run() {
  struct epoll_event events[64];
  for (;;) {
    const int n = ::epoll_wait(epoll_.get(), events, 64, -1);
    if (n < 0 && errno != EINTR) return;
    for (int i = 0; i < std::max(n, 0); ++i) {
      const Handle h = events[i].data.u64;
      if (h == kWakeTag) {
        uint64_t v;
        (void)!::read(wake_.get(), &v, sizeof v);
        continue;
      }
      std::shared_ptr<Callback> cb;
      {
        absl::MutexLock lock(&mu_);
        auto it = entries_.find(h);
        if (it == entries_.end()) continue;  // removed after epoll_wait returned
        cb = it->second.callback;
        running_ = h;
      }
      (*cb)(events[i].events);
      absl::MutexLock lock(&mu_);
      running_ = 0;
    }
    std::vector<std::function<void()>> posted;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      posted.swap(posted_);
    }
    for (auto& fn : posted) fn();
  }
}

}  // namespace zlayer::base
