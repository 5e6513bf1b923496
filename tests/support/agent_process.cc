#include "support/agent_process.h"

#include <fcntl.h>
#include <signal.h>

#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/unique_fd.h"
#include "support/test_support.h"

namespace zlayer::testing {

namespace pb = ::zlayer::agent::v1;

AgentProcess::AgentProcess(AgentOptions options) : options_(std::move(options)) {
  if (options_.root.empty()) {
    own_root_.emplace(MakeTempDir("zt-agent-"));
    root_ = own_root_->path();
  } else {
    root_ = options_.root;
  }
  socket_path_ = root_ + "/agentd.sock";
  stderr_path_ = root_ + "/agentd.log";
  Start();
}

AgentProcess::~AgentProcess() {
  if (child_) Stop();
}

void AgentProcess::Start() {
  base::UniqueFd log(::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!log) throw std::runtime_error("cannot open agent log " + stderr_path_);
  base::SpawnOptions spawn;
  spawn.argv = {ZLAYER_AGENTD_BIN,
                "--backend", options_.backend,
                "--socket", socket_path_,
                "--data-dir", root_ + "/data",
                "--run-dir", root_ + "/run",
                "--log-level", "debug"};
  for (const auto& a : options_.extra_args) spawn.argv.push_back(a);
  if (!options_.netns.empty()) {
    // nsenter execs the agent (no fork for a network namespace): the pid stays its.
    spawn.argv.insert(spawn.argv.begin(), {"/usr/bin/nsenter", "--net=" + options_.netns, "--"});
  }
  // A clean environment: no NOTIFY_SOCKET or LISTEN_FDS leaking from the test runner.
  spawn.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  for (const auto& e : options_.extra_env) spawn.env.push_back(e);
  spawn.stdout_fd = log.get();
  spawn.stderr_fd = log.get();
  auto child = base::ChildProcess::Spawn(spawn);
  if (!child.ok()) throw std::runtime_error(std::string(child.status().message()));
  child_.emplace(std::move(*child));

  channel_ = grpc::CreateChannel(absl::StrCat("unix:", socket_path_),
                                 grpc::InsecureChannelCredentials());
  const absl::Time deadline = absl::Now() + options_.ready_timeout;
  // Ready means: the socket exists and a real RPC is answered.
  while (absl::Now() < deadline) {
    if (::access(socket_path_.c_str(), F_OK) == 0) {
      auto stub = Stub();
      grpc::ClientContext ctx;
      ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
      pb::GetAgentInfoRequest req;
      pb::GetAgentInfoResponse resp;
      if (stub->GetAgentInfo(&ctx, req, &resp).ok()) return;
    }
    auto exited = child_->Wait(absl::Now() + absl::Milliseconds(20));
    if (exited.ok()) {
      child_.reset();
      throw std::runtime_error(absl::StrCat("zlayer-agentd exited with ", exited->code,
                                            " during start-up:\n", Log()));
    }
  }
  throw std::runtime_error("zlayer-agentd did not become ready:\n" + Log());
}

std::unique_ptr<pb::RuntimeService::Stub> AgentProcess::Stub() const {
  return pb::RuntimeService::NewStub(channel_);
}

int AgentProcess::Stop(absl::Duration timeout) {
  if (!child_) return -1;
  (void)child_->Signal(SIGTERM);
  auto status = child_->Wait(absl::Now() + timeout);
  int code;
  if (status.ok()) {
    code = status->code;
  } else {
    Kill();
    code = 128 + SIGKILL;
  }
  child_.reset();
  return code;
}

void AgentProcess::Kill() {
  if (!child_) return;
  (void)child_->Signal(SIGKILL);
  (void)child_->Wait(absl::Now() + absl::Seconds(10));
  child_.reset();
}

std::string AgentProcess::Log() const {
  auto text = base::ReadFile(stderr_path_);
  return text.ok() ? *text : "(no log)";
}

std::unique_ptr<grpc::ClientContext> Ctx(absl::Duration timeout) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return ctx;
}

}  // namespace zlayer::testing
