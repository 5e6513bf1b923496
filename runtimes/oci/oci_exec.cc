// Exec: `<runtime> exec` with a process spec, output read on the event loop.
//
// The runtime's exec waits for the process and exits with its status. Output may
// outlive it: a background child that inherited the pipes (`sleep 600 & echo hi`)
// keeps them open, so once the runtime has exited we read for at most the drain
// timeout and then finish anyway.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "base/fs_util.h"
#include "base/logging.h"
#include "base/process.h"
#include "core/errors.h"
#include "runtimes/oci/bundle.h"
#include "runtimes/oci/oci_container.h"

namespace zlayer::oci {

using core::ExecEvent;

namespace {

constexpr absl::Duration kDrainTimeout = absl::Seconds(2);
std::atomic<uint64_t> exec_counter{0};

base::UniqueFd MakeTimer(absl::Duration after) {
  base::UniqueFd fd(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  if (!fd) return fd;
  struct itimerspec spec = {};
  spec.it_value = absl::ToTimespec(std::max(after, absl::Milliseconds(1)));
  ::timerfd_settime(fd.get(), 0, &spec, nullptr);
  return fd;
}

}  // namespace

// One exec, from spawn to the exit event. All callbacks run on the backend's event
// loop; the owner destroys it from another thread, which unregisters them first.
class ExecSession final : public core::Subscription {
 public:
  ExecSession(base::EventLoop* loop, core::ExecEventFn sink, size_t max_chunk)
      : loop_(loop), sink_(std::move(sink)), max_chunk_(max_chunk) {}

  ~ExecSession() override {
    // Unregister first: after this no callback runs, and none is running. A
    // callback running meanwhile cannot add a handle once closing_ is set.
    std::map<int, base::EventLoop::Handle> handles;
    {
      absl::MutexLock lock(&handles_mu_);
      closing_ = true;
      handles = handles_;
    }
    for (auto& [fd, h] : handles) loop_->Remove(h);
    if (child_ && !finished_.load()) {
      // Cancelled: the process must not outlive the call.
      KillProcess();
    }
    child_.reset();  // kills and reaps the runtime's exec if still there
    if (!pid_file_.empty()) ::unlink(pid_file_.c_str());
  }

  absl::Status Start(const std::vector<std::string>& argv, int process_fd, std::string pid_file,
                     std::optional<absl::Duration> timeout) {
    pid_file_ = std::move(pid_file);
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
      return core::ErrnoError("exec: pipe2");
    }
    out_.Reset(out[0]);
    err_.Reset(err[0]);
    base::UniqueFd out_w(out[1]), err_w(err[1]);
    ::fcntl(out_.get(), F_SETFL, O_NONBLOCK);
    ::fcntl(err_.get(), F_SETFL, O_NONBLOCK);
    base::SpawnOptions spawn;
    spawn.argv = argv;
    spawn.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
    spawn.stdout_fd = out_w.get();
    spawn.stderr_fd = err_w.get();
    spawn.extra_fds = {{process_fd, 3}};
    auto child = base::ChildProcess::Spawn(spawn);
    if (!child.ok()) return child.status();
    child_.emplace(std::move(*child));
    // Our copies of the write ends must go, or the pipes never reach EOF.
    out_w.Reset();
    err_w.Reset();

    if (timeout) {
      deadline_timer_ = MakeTimer(*timeout);
      timeout_ = *timeout;
    }
    // Register last, so that no callback sees a half-built session.
    if (auto s = Watch(out_.get(), [this](uint32_t) { OnReadable(out_, true); }); !s.ok()) return s;
    if (auto s = Watch(err_.get(), [this](uint32_t) { OnReadable(err_, false); }); !s.ok()) return s;
    if (auto s = Watch(child_->pidfd(), [this](uint32_t) { OnRuntimeExit(); }); !s.ok()) return s;
    if (deadline_timer_) {
      if (auto s = Watch(deadline_timer_.get(), [this](uint32_t) { OnDeadline(); }); !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }

 private:
  void OnReadable(base::UniqueFd& fd, bool is_stdout) {
    if (!fd || finished_.load()) return;
    char buf[65536];
    for (;;) {
      const ssize_t n = ::read(fd.get(), buf, std::min(sizeof buf, max_chunk_));
      if (n > 0) {
        std::string chunk(buf, static_cast<size_t>(n));
        sink_(is_stdout ? ExecEvent::Stdout(std::move(chunk)) : ExecEvent::Stderr(std::move(chunk)));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
      // EOF (or error): this stream is done. Unwatch before closing: a closed
      // number can be reused at once, and must not be taken for ours.
      Unwatch(fd.get());
      fd.Reset();
      MaybeFinish();
      return;
    }
  }

  void OnRuntimeExit() {
    // Wait() closes the pidfd, so stop watching it first.
    Unwatch(child_->pidfd());
    auto status = child_->Wait(absl::Now());
    if (!status.ok()) return;
    exit_code_ = status->code;
    runtime_exited_ = true;
    if (!out_ && !err_) {
      MaybeFinish();
      return;
    }
    drain_timer_ = MakeTimer(kDrainTimeout);
    (void)Watch(drain_timer_.get(), [this](uint32_t) {
      // Something in the container still holds the output open: stop waiting.
      Unwatch(drain_timer_.get());
      Finish(absl::OkStatus());
    });
    MaybeFinish();
  }

  void OnDeadline() {
    Unwatch(deadline_timer_.get());  // one shot; level-triggered would spin
    KillProcess();
    timed_out_ = true;
    if (child_) (void)child_->Signal(SIGKILL);
    Finish(absl::DeadlineExceededError(
        absl::StrCat("exec did not finish within ", absl::FormatDuration(timeout_),
                     "; the process was killed")));
  }

  void KillProcess() {
    // The pid file names the exec'd process in the host's pid namespace; its
    // children go with it, so a timed-out `sh -c '...'` leaves nothing behind.
    if (FILE* f = std::fopen(pid_file_.c_str(), "re")) {
      long pid = 0;
      if (std::fscanf(f, "%ld", &pid) != 1) pid = 0;
      std::fclose(f);
      if (pid > 1) KillTree(static_cast<pid_t>(pid));
    }
    // The process can print before the runtime has written the pid file (a cancel
    // then found no file and left it running). While our helper lives, the process
    // is inside its tree: the runtime's child until the runtime exits, then the
    // helper's, as its subreaper. So the helper's tree is the process's tree too.
    if (child_ && child_->pid() > 1) KillTree(child_->pid());
  }

  static void KillTree(pid_t pid) {
    // Take a pidfd first so that the pid cannot be recycled under us, then find the
    // children while the parent still holds them.
    base::UniqueFd pidfd(base::PidfdOpen(pid));
    if (!pidfd) return;
    base::PidfdSendSignal(pidfd.get(), SIGSTOP);
    std::vector<pid_t> children;
    const std::string tasks = absl::StrCat("/proc/", pid, "/task");
    if (DIR* dir = ::opendir(tasks.c_str())) {
      while (struct dirent* ent = ::readdir(dir)) {
        if (ent->d_name[0] == '.') continue;
        auto text = base::ReadFile(absl::StrCat(tasks, "/", ent->d_name, "/children"));
        if (!text.ok()) continue;
        for (absl::string_view p : absl::StrSplit(*text, ' ', absl::SkipWhitespace())) {
          pid_t child;
          if (absl::SimpleAtoi(p, &child)) children.push_back(child);
        }
      }
      ::closedir(dir);
    }
    for (pid_t child : children) KillTree(child);
    base::PidfdSendSignal(pidfd.get(), SIGKILL);
  }

  void MaybeFinish() {
    if (runtime_exited_ && !out_ && !err_) Finish(absl::OkStatus());
  }

  void Finish(absl::Status status) {
    if (finished_.exchange(true)) return;
    int code = exit_code_;
    if (timed_out_ || !runtime_exited_) code = 137;
    sink_(ExecEvent::Exit(code, std::move(status)));
  }

  absl::Status Watch(int fd, std::function<void(uint32_t)> cb) {
    absl::MutexLock lock(&handles_mu_);
    if (closing_) return absl::CancelledError("exec cancelled");
    auto h = loop_->Add(fd, EPOLLIN, std::move(cb));
    if (!h.ok()) return h.status();
    handles_[fd] = *h;
    return absl::OkStatus();
  }
  void Unwatch(int fd) {
    base::EventLoop::Handle h = 0;
    {
      absl::MutexLock lock(&handles_mu_);
      auto it = handles_.find(fd);
      if (it == handles_.end()) return;
      h = it->second;
      handles_.erase(it);
    }
    loop_->Remove(h);  // on the loop thread: no wait
  }

  base::EventLoop* loop_;
  core::ExecEventFn sink_;
  size_t max_chunk_;
  std::optional<base::ChildProcess> child_;
  base::UniqueFd out_, err_, deadline_timer_, drain_timer_;
  absl::Mutex handles_mu_;
  std::map<int, base::EventLoop::Handle> handles_ ABSL_GUARDED_BY(handles_mu_);
  bool closing_ ABSL_GUARDED_BY(handles_mu_) = false;
  std::string pid_file_;
  absl::Duration timeout_;
  int exit_code_ = 0;
  bool runtime_exited_ = false;
  bool timed_out_ = false;
  std::atomic<bool> finished_{false};
};

namespace {

// Ends the session, then runs `after` (which journals a cancelled exec's exit).
class JournaledExec final : public core::Subscription {
 public:
  JournaledExec(std::unique_ptr<core::Subscription> session, std::function<void()> after)
      : session_(std::move(session)), after_(std::move(after)) {}
  ~JournaledExec() override {
    session_.reset();
    after_();
  }

 private:
  std::unique_ptr<core::Subscription> session_;
  std::function<void()> after_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<core::Subscription>> OciBackend::ExecStream(
    const core::ExecRequest& request, core::ExecEventFn on_event) {
  return StartExec(request, std::move(on_event), /*report=*/true);
}

absl::StatusOr<core::ExecResult> OciBackend::Exec(const core::ExecRequest& request) {
  return RunExec(request, /*report=*/true);
}

absl::StatusOr<std::unique_ptr<core::Subscription>> OciBackend::StartExec(
    const core::ExecRequest& request, core::ExecEventFn on_event, bool report) {
  if (request.command.empty()) return core::InvalidSpec("exec: command must not be empty");
  auto found = Find(request.id);
  if (!found.ok()) return found.status();
  const auto& container = *found;
  nlohmann::json config;
  std::string deployment;
  {
    absl::MutexLock lock(&mu_);
    if (container->state.phase != core::ContainerState::Phase::kRunning) {
      return core::WrongState(absl::StrCat("container ", container->name),
                              container->state.ToString(), "exec needs a running container");
    }
    config = container->config;
    deployment = container->record.deployment;
  }
  core::EventSink* events = report ? config_.events : nullptr;
  // Exactly one exit per journaled exec: the session's, or the cancellation's when
  // the caller drops the stream first (the session then reports none).
  auto exit_journaled = std::make_shared<std::atomic<bool>>(false);
  if (events) {
    on_event = [events, exit_journaled, id = request.id, deployment, command = request.command,
                inner = std::move(on_event)](ExecEvent ev) {
      if (ev.kind == ExecEvent::Kind::kExit && !exit_journaled->exchange(true)) {
        events->Record(core::ExecNodeEvent(id, deployment, command, ev.exit_code));
      }
      inner(std::move(ev));
    };
  }
  auto process = BuildExecProcess(config, container->Rootfs(), request.command, request.env,
                                  request.workdir, request.user);
  if (!process.ok()) return process.status();
  // The process spec travels in a memfd the runtime reads as /proc/self/fd/3: no
  // temp file to leak.
  base::UniqueFd memfd(::memfd_create("exec-process", MFD_CLOEXEC));
  if (!memfd) return core::ErrnoError("memfd_create");
  const std::string text = process->dump();
  if (::write(memfd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    return core::ErrnoError("write exec process spec");
  }
  ::lseek(memfd.get(), 0, SEEK_SET);
  const std::string pid_file = absl::StrCat(config_.run_dir, "/exec-", container->name, "-",
                                            exec_counter.fetch_add(1), ".pid");
  auto session = std::make_unique<ExecSession>(loop_.get(), std::move(on_event), 64 << 10);
  // The monitor binary's exec mode runs the runtime's detached exec and waits for
  // the process as its subreaper (see RunExec in monitor/main.cc).
  const std::vector<std::string> argv = {monitor_path_,    "exec",   runtime_->info().path,
                                         runtime_->root(), pid_file, container->name};
  // Started is journaled first so that a fast exit cannot precede it.
  if (events)
    events->Record(core::ExecNodeEvent(request.id, deployment, request.command, std::nullopt));
  if (auto s = session->Start(argv, memfd.get(), pid_file, request.timeout); !s.ok()) {
    if (events) {
      auto failed = core::ExecNodeEvent(request.id, deployment, request.command, -1);
      failed.outcome = core::WaitOutcome::RuntimeError(std::string(s.message()), std::nullopt);
      events->Record(std::move(failed));
    }
    return s;
  }
  base::Logger("oci")->debug("exec started container_id={} argv0={}", container->name,
                             request.command[0]);
  if (!events) return std::unique_ptr<core::Subscription>(std::move(session));
  return std::unique_ptr<core::Subscription>(std::make_unique<JournaledExec>(
      std::move(session),
      [events, exit_journaled, id = request.id, deployment, command = request.command] {
        if (exit_journaled->exchange(true)) return;
        auto cancelled = core::ExecNodeEvent(id, deployment, command, 137);
        cancelled.outcome->message = "cancelled: the caller ended the exec before it exited";
        events->Record(std::move(cancelled));
      }));
}

absl::StatusOr<core::ExecResult> OciBackend::RunExec(const core::ExecRequest& request,
                                                     bool report) {
  struct Collected {
    absl::Mutex mu;
    core::ExecResult result;
    absl::Status status;
    absl::Notification done;
  };
  auto collected = std::make_shared<Collected>();
  const size_t limit = config_.exec_max_output;
  auto session = StartExec(
      request,
      [collected, limit](ExecEvent ev) {
        absl::MutexLock lock(&collected->mu);
        auto& r = collected->result;
        auto append = [limit](std::string& to, bool& truncated, const std::string& data) {
          if (to.size() >= limit) {
            truncated = true;
            return;
          }
          const size_t room = limit - to.size();
          to.append(data, 0, std::min(room, data.size()));
          if (data.size() > room) truncated = true;
        };
        switch (ev.kind) {
          case ExecEvent::Kind::kStdout:
            append(r.stdout_data, r.stdout_truncated, ev.data);
            break;
          case ExecEvent::Kind::kStderr:
            append(r.stderr_data, r.stderr_truncated, ev.data);
            break;
          case ExecEvent::Kind::kExit:
            r.exit_code = ev.exit_code;
            collected->status = ev.status;
            if (!collected->done.HasBeenNotified()) collected->done.Notify();
            break;
        }
      },
      report);
  if (!session.ok()) return session.status();
  collected->done.WaitForNotification();
  session->reset();
  absl::MutexLock lock(&collected->mu);
  if (!collected->status.ok()) return collected->status;
  return std::move(collected->result);
}

}  // namespace zlayer::oci
