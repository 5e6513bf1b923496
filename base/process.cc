#include "base/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/errors.h"

extern char** environ;

namespace zlayer::base {
namespace {

class SpawnFileActions {
 public:
  SpawnFileActions() { ::posix_spawn_file_actions_init(&actions_); }
  ~SpawnFileActions() { ::posix_spawn_file_actions_destroy(&actions_); }
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

class SpawnAttr {
 public:
  SpawnAttr() { ::posix_spawnattr_init(&attr_); }
  ~SpawnAttr() { ::posix_spawnattr_destroy(&attr_); }
  posix_spawnattr_t* get() { return &attr_; }

 private:
  posix_spawnattr_t attr_;
};

std::vector<char*> CStrings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

absl::StatusOr<std::string> ReadMemfd(int fd, size_t limit) {
  std::string out;
  if (::lseek(fd, 0, SEEK_SET) < 0) return core::ErrnoError("lseek memfd");
  char buf[8192];
  while (out.size() < limit) {
    const ssize_t n = ::read(fd, buf, std::min(sizeof buf, limit - out.size()));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return core::ErrnoError("read memfd");
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace

int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

int PidfdSendSignal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

ExitStatus ExitStatus::FromWaitStatus(int wstatus) {
  ExitStatus s;
  if (WIFEXITED(wstatus)) {
    s.code = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    s.signal = WTERMSIG(wstatus);
    s.code = 128 + s.signal;
  }
  return s;
}

absl::StatusOr<ChildProcess> ChildProcess::Spawn(const SpawnOptions& options) {
  if (options.argv.empty() || options.argv[0].empty() || options.argv[0][0] != '/') {
    return absl::InvalidArgumentError("spawn: argv[0] must be an absolute path");
  }
  SpawnFileActions actions;
  SpawnAttr attr;
  UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devnull) return core::ErrnoError("open /dev/null");
  const int in = options.stdin_fd >= 0 ? options.stdin_fd : devnull.get();
  const int out = options.stdout_fd >= 0 ? options.stdout_fd : devnull.get();
  const int err = options.stderr_fd >= 0 ? options.stderr_fd : devnull.get();
  ::posix_spawn_file_actions_adddup2(actions.get(), in, 0);
  ::posix_spawn_file_actions_adddup2(actions.get(), out, 1);
  ::posix_spawn_file_actions_adddup2(actions.get(), err, 2);
  int highest = 2;
  for (const auto& [from, to] : options.extra_fds) {
    ::posix_spawn_file_actions_adddup2(actions.get(), from, to);
    highest = std::max(highest, to);
  }
  // Everything else is closed, CLOEXEC or not: the agent holds sockets and pidfds
  // that must never leak into runtimes or containers.
  ::posix_spawn_file_actions_addclosefrom_np(actions.get(), highest + 1);

  sigset_t empty_mask, default_set;
  sigemptyset(&empty_mask);
  sigfillset(&default_set);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (options.new_session) flags |= POSIX_SPAWN_SETSID;
  ::posix_spawnattr_setflags(attr.get(), flags);
  ::posix_spawnattr_setsigmask(attr.get(), &empty_mask);
  ::posix_spawnattr_setsigdefault(attr.get(), &default_set);

  auto argv = CStrings(options.argv);
  auto envp = CStrings(options.env);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, options.argv[0].c_str(), actions.get(), attr.get(),
                               argv.data(), envp.data());
  if (rc != 0) return core::ErrnoStatus(rc, absl::StrCat("spawn ", options.argv[0]));
  // Our unreaped child cannot be recycled, so opening its pidfd now is race-free.
  UniqueFd pidfd(PidfdOpen(pid));
  if (!pidfd) {
    auto status = core::ErrnoError(absl::StrCat("pidfd_open ", pid));
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return status;
  }
  return ChildProcess(pid, std::move(pidfd));
}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    KillAndReap();
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::move(other.pidfd_);
  }
  return *this;
}

ChildProcess::~ChildProcess() { KillAndReap(); }

void ChildProcess::KillAndReap() {
  if (pid_ <= 0) return;
  if (pidfd_) PidfdSendSignal(pidfd_.get(), SIGKILL);
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  pidfd_.Reset();
}

absl::StatusOr<ExitStatus> ChildProcess::Wait(absl::Time deadline) {
  if (pid_ <= 0) return absl::FailedPreconditionError("wait: no child");
  for (;;) {
    int timeout_ms = -1;
    if (deadline != absl::InfiniteFuture()) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) {
        timeout_ms = 0;
      } else {
        timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(left)) + 1;
      }
    }
    struct pollfd pfd = {pidfd_.get(), POLLIN, 0};
    const int n = ::poll(&pfd, 1, timeout_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      return core::ErrnoError("poll pidfd");
    }
    if (n == 0) {
      return absl::DeadlineExceededError(
          absl::StrCat("process ", pid_, " still running at its deadline"));
    }
    int wstatus = 0;
    pid_t r;
    do {
      r = ::waitpid(pid_, &wstatus, 0);
    } while (r < 0 && errno == EINTR);
    if (r < 0) return core::ErrnoError(absl::StrCat("waitpid ", pid_));
    pid_ = -1;
    pidfd_.Reset();
    return ExitStatus::FromWaitStatus(wstatus);
  }
}

absl::Status ChildProcess::Signal(int sig) {
  if (pid_ <= 0) return absl::FailedPreconditionError("signal: no child");
  if (PidfdSendSignal(pidfd_.get(), sig) != 0) return core::ErrnoError("pidfd_send_signal");
  return absl::OkStatus();
}

pid_t ChildProcess::Release() {
  pidfd_.Reset();
  return std::exchange(pid_, -1);
}

absl::StatusOr<RunResult> RunCommand(const RunOptions& options) {
  UniqueFd out(::memfd_create("stdout", MFD_CLOEXEC));
  UniqueFd err(::memfd_create("stderr", MFD_CLOEXEC));
  if (!out || !err) return core::ErrnoError("memfd_create");
  UniqueFd in;
  if (options.stdin_data) {
    in.Reset(::memfd_create("stdin", MFD_CLOEXEC));
    if (!in) return core::ErrnoError("memfd_create");
    const std::string& data = *options.stdin_data;
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::write(in.get(), data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return core::ErrnoError("write memfd");
      done += static_cast<size_t>(n);
    }
    ::lseek(in.get(), 0, SEEK_SET);
  }
  SpawnOptions spawn;
  spawn.argv = options.argv;
  spawn.env = options.env;
  spawn.stdin_fd = in ? in.get() : -1;
  spawn.stdout_fd = out.get();
  spawn.stderr_fd = err.get();
  auto child = ChildProcess::Spawn(spawn);
  if (!child.ok()) return child.status();
  auto status = child->Wait(absl::Now() + options.timeout);
  if (!status.ok()) {
    if (absl::IsDeadlineExceeded(status.status())) {
      return absl::DeadlineExceededError(absl::StrCat(
          options.argv[0], " did not finish within ", absl::FormatDuration(options.timeout)));
    }
    return status.status();
  }
  RunResult result;
  result.status = *status;
  auto stdout_text = ReadMemfd(out.get(), options.max_output);
  if (!stdout_text.ok()) return stdout_text.status();
  auto stderr_text = ReadMemfd(err.get(), options.max_output);
  if (!stderr_text.ok()) return stderr_text.status();
  result.out = std::move(*stdout_text);
  result.err = std::move(*stderr_text);
  return result;
}

std::vector<std::string> CurrentEnvironment() {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
  return env;
}

absl::StatusOr<std::string> FindExecutable(const std::string& name) {
  auto executable = [](const std::string& p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
  };
  if (name.find('/') != std::string::npos) {
    if (executable(name)) return name;
    return absl::NotFoundError(absl::StrCat(name, " is not an executable file"));
  }
  const char* path = ::getenv("PATH");
  const std::string search =
      path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (absl::string_view dir : absl::StrSplit(search, ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/", name);
    if (executable(candidate)) return candidate;
  }
  return absl::NotFoundError(absl::StrCat(name, " not found in PATH"));
}

}  // namespace zlayer::base
