// Exit detection: the monitor's exit record (seen through inotify) and the monitor's
// own end (through its pidfd), whichever comes first, settle a container's outcome.
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/process.h"
#include "base/time_util.h"
#include "runtimes/oci/oci_container.h"

namespace zlayer::oci {

void OciBackend::WatchStateDir(const std::shared_ptr<Container>& container) {
  const int wd = ::inotify_add_watch(inotify_.get(), container->StateDir().c_str(),
                                     IN_MOVED_TO | IN_CLOSE_WRITE);
  if (wd < 0) return;
  absl::MutexLock lock(&mu_);
  container->watch_wd = wd;
  by_watch_[wd] = container;
}

void OciBackend::OnInotify() {
  alignas(struct inotify_event) char buf[8192];
  std::vector<std::shared_ptr<Container>> exited;
  for (;;) {
    const ssize_t n = ::read(inotify_.get(), buf, sizeof buf);
    if (n <= 0) break;
    for (ssize_t off = 0; off < n;) {
      auto* ev = reinterpret_cast<struct inotify_event*>(buf + off);
      off += static_cast<ssize_t>(sizeof(struct inotify_event) + ev->len);
      if (ev->len == 0 || std::strcmp(ev->name, "exit.json") != 0) continue;
      absl::MutexLock lock(&mu_);
      auto it = by_watch_.find(ev->wd);
      if (it != by_watch_.end()) exited.push_back(it->second);
    }
  }
  for (const auto& container : exited) CheckExit(container);
}

void OciBackend::CheckExit(const std::shared_ptr<Container>& container) {
  if (shutting_down_) return;  // the health checker may be gone; a restarted agent reads it
  auto record = ReadExitRecord(container->StateDir() + "/exit.json");
  if (!record.ok()) return;
  record->via_init = container->record.init_process;
  {
    absl::MutexLock lock(&mu_);
    if (container->removed || container->starting) return;
    if (container->state.IsTerminal() && container->outcome) return;
    container->state = record->ToState();
    container->outcome = record->ToOutcome();
    container->stats.reset();
    Publish(*container);
  }
  health_->Stop(container->name);
  auto log = base::Logger("oci");
  log->info("container exited container_id={} service={} exit_code={} reason={}{}", container->name,
            container->id.service, record->exit_code,
            core::WaitReasonName(record->ToOutcome().reason),
            record->error.empty() ? "" : absl::StrCat(" error=\"", record->error, "\""));
  OnRunEnded(container);
}

void OciBackend::OnMonitorGone(const std::shared_ptr<Container>& container) {
  if (shutting_down_) return;
  CheckExit(container);
  base::EventLoop::Handle handle = 0;
  bool lost = false;
  pid_t monitor = 0;
  {
    absl::MutexLock lock(&mu_);
    handle = std::exchange(container->monitor_handle, 0);
    container->monitor_pidfd.Reset();
    monitor = std::exchange(container->monitor_pid, 0);
    // No exit record: the monitor died before the container did, or with it.
    lost = !container->removed && !container->state.IsTerminal() && !container->starting;
  }
  if (handle) loop_->Remove(handle);  // we are on the loop thread: no wait
  health_->Stop(container->name);
  if (lost) {
    base::Logger("oci")->error("container monitor died container_id={} monitor_pid={}",
                               container->name, monitor);
    RecordFailure(container, absl::StrCat("the container's monitor (pid ", monitor,
                                          ") died; its exit status is unknown"));
  }
}

absl::Status OciBackend::AdoptMonitor(const std::shared_ptr<Container>& container,
                                      const MonitorRecord& m) {
  base::UniqueFd pidfd(base::PidfdOpen(m.monitor_pid));
  // The pid could have been recycled: it is ours only if its start time matches.
  if (!pidfd || ProcessStartTicks(m.monitor_pid) != m.monitor_start_ticks) {
    return absl::NotFoundError("monitor is gone");
  }
  std::weak_ptr<Container> weak = container;
  auto handle = loop_->Add(pidfd.get(), EPOLLIN, [this, weak](uint32_t) {
    if (auto locked = weak.lock()) OnMonitorGone(locked);
  });
  if (!handle.ok()) return handle.status();
  absl::MutexLock lock(&mu_);
  container->monitor_pid = m.monitor_pid;
  container->monitor_pidfd = std::move(pidfd);
  container->monitor_handle = *handle;
  container->init_pid = static_cast<uint32_t>(m.init_pid);
  container->init_start_ticks = m.init_start_ticks;
  return absl::OkStatus();
}

}  // namespace zlayer::oci
