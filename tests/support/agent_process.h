// A real zlayer-agentd process for end-to-end tests: started with a private socket
// and data dirs, connected to over the generated stubs, stopped with SIGTERM (and
// killed if it does not stop in time).
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "base/fs_util.h"
#include "base/process.h"
#include "zlayer/agent/v1/runtime.grpc.pb.h"

namespace zlayer::testing {

struct AgentOptions {
  std::string backend = "mock";
  std::vector<std::string> extra_args;
  std::vector<std::string> extra_env;
  // Where the agent keeps state; a fresh temp dir when empty. Reuse one to test a
  // restart over the same state.
  std::string root;
  absl::Duration ready_timeout = absl::Seconds(20);
  // A network namespace (a bound nsfs path) to run the agent in, through nsenter:
  // its bridge, veths and port rules then stay inside it.
  std::string netns;
};

class AgentProcess {
 public:
  // Starts the agent and waits until its socket answers a health check.
  explicit AgentProcess(AgentOptions options = {});
  ~AgentProcess();

  const std::string& socket_path() const { return socket_path_; }
  const std::string& root() const { return root_; }
  const std::string& stderr_path() const { return stderr_path_; }
  pid_t pid() const { return child_ ? child_->pid() : -1; }

  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  std::unique_ptr<zlayer::agent::v1::RuntimeService::Stub> Stub() const;

  // SIGTERM and wait; returns the exit code (or 128+signal).
  int Stop(absl::Duration timeout = absl::Seconds(15));
  // SIGKILL and reap, as a crash would.
  void Kill();
  // The agent's log so far, for failure messages.
  std::string Log() const;

 private:
  void Start();

  AgentOptions options_;
  std::optional<base::TempDir> own_root_;
  std::string root_;
  std::string socket_path_;
  std::string stderr_path_;
  std::optional<base::ChildProcess> child_;
  std::shared_ptr<grpc::Channel> channel_;
};

// A ClientContext with a deadline, so that no test call can hang.
std::unique_ptr<grpc::ClientContext> Ctx(absl::Duration timeout = absl::Seconds(10));

}  // namespace zlayer::testing
