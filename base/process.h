// Child processes: spawned with posix_spawn, tracked by pidfd, always reaped.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/unique_fd.h"

namespace zlayer::base {

struct SpawnOptions {
  // argv[0] must be an absolute path; no shell is involved.
  std::vector<std::string> argv;
  // The complete environment of the child.
  std::vector<std::string> env;
  // -1 = /dev/null. The descriptors are duplicated onto 0, 1, 2.
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  // Further descriptors to pass: {fd in this process, fd number in the child}.
  std::vector<std::pair<int, int>> extra_fds;
  // Start the child in a session (and process group) of its own.
  bool new_session = false;
};

// How a process ended.
struct ExitStatus {
  // Exit code, or 128 + signal when killed by a signal (the shell convention).
  int code = 0;
  // The signal that killed it; 0 when it exited.
  int signal = 0;
  static ExitStatus FromWaitStatus(int wstatus);
};

class ChildProcess {
 public:
  static absl::StatusOr<ChildProcess> Spawn(const SpawnOptions& options);

  ChildProcess(ChildProcess&& other) noexcept
      : pid_(std::exchange(other.pid_, -1)), pidfd_(std::move(other.pidfd_)) {}
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  // Kills (SIGKILL) and reaps a child that is still running.
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  // Readable once the child has exited; usable with poll/epoll.
  int pidfd() const { return pidfd_.get(); }

  // Waits until the child exits or `deadline` passes; DEADLINE_EXCEEDED then, and
  // the child is left running.
  absl::StatusOr<ExitStatus> Wait(absl::Time deadline = absl::InfiniteFuture());
  // Signals through the pidfd, which cannot hit a recycled pid.
  absl::Status Signal(int sig);
  // Forgets the child without killing or reaping it (it must be reaped elsewhere).
  pid_t Release();

 private:
  ChildProcess(pid_t pid, UniqueFd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}
  void KillAndReap();

  pid_t pid_ = -1;
  UniqueFd pidfd_;
};

struct RunOptions {
  std::vector<std::string> argv;
  std::vector<std::string> env;
  absl::Duration timeout = absl::Seconds(30);
  // Output beyond this many bytes per stream is dropped.
  size_t max_output = 1 << 20;
  std::optional<std::string> stdin_data;
};

struct RunResult {
  ExitStatus status;
  std::string out;
  std::string err;
  bool ok() const { return status.code == 0; }
};

// Runs a command to completion. Output goes to memfds rather than pipes: a runtime's
// `create` leaves the container holding its stdio, and a pipe would never reach EOF.
// On timeout the child is killed and DEADLINE_EXCEEDED is returned.
absl::StatusOr<RunResult> RunCommand(const RunOptions& options);

// pidfd_open(2) without the glibc 2.36 header (which lacks extern "C").
int PidfdOpen(pid_t pid);
int PidfdSendSignal(int pidfd, int sig);

// The current environment as a vector, for SpawnOptions::env.
std::vector<std::string> CurrentEnvironment();

// Finds `name` in PATH (or checks it when it holds a '/'); NOT_FOUND otherwise.
absl::StatusOr<std::string> FindExecutable(const std::string& name);

}  // namespace zlayer::base
