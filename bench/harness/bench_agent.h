// One zlayer-agentd the bench starts and stops: its process, files and client.
// Whatever it leaves when stopped (monitors of containers it could not remove,
// runc state, mounts below its data directory) is cleared by the destructor, so
// a failed or interrupted case still leaves nothing behind.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/process.h"
#include "bench/harness/agent_client.h"

namespace zlayer::bench {

struct BenchAgentSetup {
  std::string agentd_bin;
  std::string runc_path;  // pinned, so every contender runs the same runtime
  std::string socket;
  std::string data_dir;
  std::string run_dir;
  std::string cgroup_parent;
  std::string log_path;
  // After the common flags (e.g. {"--network", "none"} or {"--config", FILE}).
  std::vector<std::string> extra_args;
  // A network namespace file to run the agent in (through nsenter); empty: ours.
  std::string netns;
};

class BenchAgent {
 public:
  static absl::StatusOr<std::unique_ptr<BenchAgent>> Start(BenchAgentSetup setup);
  ~BenchAgent();
  BenchAgent(const BenchAgent&) = delete;
  BenchAgent& operator=(const BenchAgent&) = delete;

  pid_t pid() const { return process_ ? process_->pid() : -1; }
  Stub& stub() { return *stub_; }
  const BenchAgentSetup& setup() const { return setup_; }

 private:
  explicit BenchAgent(BenchAgentSetup setup) : setup_(std::move(setup)) {}

  BenchAgentSetup setup_;
  std::optional<base::ChildProcess> process_;
  std::unique_ptr<Stub> stub_;
};

}  // namespace zlayer::bench
