// What tests/systemd needs to play systemd's part without systemd as PID 1: the
// notification socket, a launcher that can set variables only the child knows
// (WATCHDOG_PID=<its own pid>) and give it a private /run/systemd, and a reader
// for a child's output.
#pragma once

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/unique_fd.h"

namespace zlayer::testing {

// One datagram received on a NotifySocket.
struct Notification {
  absl::Time at;
  pid_t sender = 0;  // from SCM_CREDENTIALS
  std::string text;
  // KEY -> VALUE for each "KEY=VALUE" line.
  std::map<std::string, std::string> fields;
  bool Has(const std::string& key, const std::string& value = "") const;
  std::string Get(const std::string& key) const;
};

// A datagram socket the test owns, standing in for systemd's NOTIFY_SOCKET.
// Datagrams queue in the kernel, so nothing sent is lost while the test is busy.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path);
  ~NotifySocket();

  const std::string& path() const { return path_; }
  std::string Env() const { return "NOTIFY_SOCKET=" + path_; }

  // The next datagram, or nullopt when none arrives within `timeout`.
  std::optional<Notification> Next(absl::Duration timeout);
  // Reads until a datagram with KEY=VALUE (any value when `value` is empty)
  // arrives; every datagram read, the match included, is appended to `seen`.
  std::optional<Notification> WaitFor(const std::string& key, const std::string& value,
                                      absl::Duration timeout,
                                      std::vector<Notification>* seen = nullptr);

 private:
  std::string path_;
  base::UniqueFd fd_;
};

// Collects everything written to a pipe by a child (stdout+stderr), so that the
// child never blocks on a full pipe, and lets the test wait for a string.
class OutputCollector {
 public:
  OutputCollector();
  ~OutputCollector();
  // The write end, for the child; close it in the parent after spawning.
  int write_fd() const { return write_.get(); }
  void CloseWriteEnd() { write_.Reset(); }
  bool WaitForText(const std::string& text, absl::Duration timeout);
  std::string Text() const;

 private:
  void Run();
  base::UniqueFd read_, write_, wake_;
  mutable absl::Mutex mu_;
  std::string text_ ABSL_GUARDED_BY(mu_);
  bool eof_ ABSL_GUARDED_BY(mu_) = false;
  std::thread reader_;
};

struct LaunchOptions {
  // argv[0] must be an absolute path.
  std::vector<std::string> argv;
  std::vector<std::string> env;
  // Sets WATCHDOG_PID to the child's own pid, as systemd does.
  bool watchdog_pid_self = false;
  // A listening socket passed as fd 3 with LISTEN_FDS=1 and LISTEN_PID=<the
  // child's pid>: socket activation as a .socket unit does it, with the test
  // holding the socket across restarts of the agent.
  int listen_fd = -1;
  // Where stdout and stderr go (-1: /dev/null).
  int output_fd = -1;
  // Sets JOURNAL_STREAM to the device and inode of `output_fd`, as systemd does
  // for a service whose output is connected to the journal.
  bool journal_stream = false;
  // Non-empty: the child gets a private mount namespace with this directory
  // bind-mounted over /run/systemd, so /run/systemd/journal/socket is whatever
  // the test put in <dir>/journal. Needs root.
  std::string private_run_systemd;
};

// A child started with fork+execve (posix_spawn cannot set a variable to the
// child's own pid), tracked by pidfd, killed and reaped on destruction.
class LaunchedProcess {
 public:
  explicit LaunchedProcess(const LaunchOptions& options);
  ~LaunchedProcess();
  LaunchedProcess(const LaunchedProcess&) = delete;
  LaunchedProcess& operator=(const LaunchedProcess&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int sig);
  // The exit code (128+N for signal N), or nullopt if still running at `timeout`.
  std::optional<int> Wait(absl::Duration timeout);
  // SIGTERM, then SIGKILL after `timeout`; returns the exit code.
  int Stop(absl::Duration timeout = absl::Seconds(15));

 private:
  pid_t pid_ = -1;
  base::UniqueFd pidfd_;
  std::optional<int> exit_code_;
};

// Unary calls with a raw body over a GenericStub: the test-hook methods, and
// grpc.health.v1.Health/Check with an empty body.
struct GenericResult {
  int code = -1;  // grpc::StatusCode; -1 while unfinished
  std::string message;
  std::string body;
};

// Starts `count` identical calls at once; they complete in the background.
class GenericCalls {
 public:
  GenericCalls(std::shared_ptr<grpc::Channel> channel, const std::string& method,
               const std::string& body, int count, absl::Duration timeout);
  ~GenericCalls();  // cancels what is unfinished and waits for it
  // True when every call finished within `timeout`.
  bool WaitAll(absl::Duration timeout);
  std::vector<GenericResult> Results() const;

 private:
  struct Call;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::GenericStub> stub_;
  std::vector<std::unique_ptr<Call>> calls_;
  mutable absl::Mutex mu_;
  int pending_ ABSL_GUARDED_BY(mu_) = 0;
};

GenericResult CallGeneric(std::shared_ptr<grpc::Channel> channel, const std::string& method,
                          const std::string& body, absl::Duration timeout = absl::Seconds(10));

// Paths of the binaries under test.
std::string AgentdBin();
std::string AgentdTesthooksBin();

}  // namespace zlayer::testing
