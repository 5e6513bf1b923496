#include "cgroups/oom.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "cgroups/parse.h"
#include "core/errors.h"

namespace zlayer::cgroups {
namespace {

bool Exists(const std::string& path) {
  return ::faccessat(AT_FDCWD, path.c_str(), F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

// Reads the counter through a kept descriptor. ENODEV (the cgroup's files were
// removed) and ENOENT mean the container is gone.
absl::StatusOr<uint64_t> ReadCounter(int fd, const std::string& file) {
  char buf[512];
  ssize_t n;
  do {
    n = ::pread(fd, buf, sizeof buf, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    const int err = errno;
    if (err == ENODEV || err == ENOENT) {
      return core::NotFound(absl::StrCat("cgroup file ", file), "the cgroup was removed");
    }
    return core::ErrnoStatus(err, absl::StrCat("read ", file));
  }
  const absl::string_view content(buf, static_cast<size_t>(n));
  auto v = FindKeyedValue(content, "oom_kill");
  if (!v) {
    return absl::InternalError(
        absl::StrCat("no oom_kill counter in ", file, ": '", content.substr(0, 120), "'"));
  }
  return *v;
}

absl::StatusOr<base::UniqueFd> OpenFile(const std::string& path, int flags) {
  base::UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC));
  if (!fd) return core::ErrnoError(absl::StrCat("open ", path));  // ENOENT -> NOT_FOUND
  return fd;
}

}  // namespace

absl::StatusOr<std::string> OomKillCounterFile(const CgroupPaths& paths) {
  if (!paths.unified.empty()) {
    const std::string events = paths.unified + "/memory.events";
    if (Exists(events)) return events;
  }
  if (!paths.memory.empty()) {
    const std::string control = paths.memory + "/memory.oom_control";
    if (Exists(control)) return control;
  }
  for (const std::string* dir : {&paths.unified, &paths.memory}) {
    if (!dir->empty() && !Exists(*dir)) {
      return core::NotFound(absl::StrCat("cgroup ", *dir), "it does not exist");
    }
  }
  return absl::FailedPreconditionError(
      absl::StrCat("no memory controller for cgroup: ", DebugString(paths)));
}

absl::StatusOr<uint64_t> ReadOomKillCount(const CgroupPaths& paths) {
  auto file = OomKillCounterFile(paths);
  if (!file.ok()) return file.status();
  auto fd = OpenFile(*file, O_RDONLY);
  if (!fd.ok()) return fd.status();
  return ReadCounter(fd->get(), *file);
}

absl::StatusOr<std::unique_ptr<OomWatcher>> OomWatcher::Create(const CgroupPaths& paths) {
  auto file = OomKillCounterFile(paths);
  if (!file.ok()) return file.status();
  std::unique_ptr<OomWatcher> w(new OomWatcher());
  w->counter_file_ = *file;
  auto counter = OpenFile(*file, O_RDONLY);
  if (!counter.ok()) return counter.status();
  w->counter_fd_ = *std::move(counter);

  const bool v2 = !paths.unified.empty() && *file == paths.unified + "/memory.events";
  if (v2) {
    w->notifier_ = OomNotifier::kInotify;
    w->notify_fd_ = base::UniqueFd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!w->notify_fd_) return core::ErrnoError("inotify_init1");
    if (::inotify_add_watch(w->notify_fd_.get(), file->c_str(), IN_MODIFY) < 0) {
      return core::ErrnoError(absl::StrCat("inotify_add_watch ", *file));
    }
  } else {
    // cgroup-v1 memory.txt, "Memory thresholds"/"OOM control": writing
    // "<eventfd> <fd of memory.oom_control>" to cgroup.event_control registers the
    // eventfd for OOM notifications of this cgroup.
    w->notifier_ = OomNotifier::kEventfd;
    w->notify_fd_ = base::UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!w->notify_fd_) return core::ErrnoError("eventfd");
    const std::string control = paths.memory + "/cgroup.event_control";
    auto ec = OpenFile(control, O_WRONLY);
    if (!ec.ok()) return ec.status();
    const std::string line =
        absl::StrCat(w->notify_fd_.get(), " ", w->counter_fd_.get());
    if (::write(ec->get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      return core::ErrnoError(absl::StrCat("register OOM eventfd with ", control));
    }
  }
  // Read the baseline after arming the notification, so a kill in between is
  // either counted in the baseline or notified, never lost.
  auto initial = ReadCounter(w->counter_fd_.get(), w->counter_file_);
  if (!initial.ok()) return initial.status();
  w->initial_count_ = *initial;
  return w;
}

absl::StatusOr<uint64_t> OomWatcher::Check() {
  // Drain: inotify hands out events, the eventfd a counter; both are non-blocking.
  alignas(struct inotify_event) char buf[4096];
  for (;;) {
    const ssize_t n = ::read(notify_fd_.get(), buf, sizeof buf);
    if (n > 0 && notifier_ == OomNotifier::kInotify) continue;
    if (n < 0 && errno == EINTR) continue;
    break;  // EAGAIN: drained; an eventfd read returns everything at once
  }
  return ReadCounter(counter_fd_.get(), counter_file_);
}

}  // namespace zlayer::cgroups
