// The side-by-side cases. Each adds its rows to the report; a case that cannot
// run (containerd missing, say) returns an error and the others still run.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "bench/harness/env.h"
#include "bench/harness/report.h"

namespace zlayer::bench {

struct CaseOptions {
  int warmup = 3;
  int iterations = 30;
  // Running containers for the memory and stats cases.
  std::vector<int> populations = {50, 200};
  // Open Wait (and, separately, log-follow) streams.
  std::vector<int> streams = {100, 1000, 2000};
  // Unary calls timed while the streams are open, and for the gRPC floor.
  int unary_calls = 500;
  int floor_calls = 3000;
  // Pull: uncompressed image size spread over several layers; cold pulls per tool.
  int pull_mb = 200;
  int pull_warmup = 1;
  int pull_iterations = 3;
  // This binary, for its --floor-server mode.
  std::string self_exe;
};

absl::Status RunToCompletionCase(BenchEnv& env, const CaseOptions& o, Report& report);
// Run to completion with and without a network, the agent's and ctr's (CNI).
absl::Status NetworkCase(BenchEnv& env, const CaseOptions& o, Report& report);
absl::Status ExecCase(BenchEnv& env, const CaseOptions& o, Report& report);
// Memory (agentd and monitors vs containerd and shims) and stats over the same
// populations of running containers.
absl::Status PopulationCase(BenchEnv& env, const CaseOptions& o, Report& report);
absl::Status StreamsCase(BenchEnv& env, const CaseOptions& o, Report& report);
absl::Status PullCase(BenchEnv& env, const CaseOptions& o, Report& report);
absl::Status GrpcFloorCase(BenchEnv& env, const CaseOptions& o, Report& report);

// `--floor-server SOCKET`: a bare gRPC C++ callback server answering GetAgentInfo
// with a constant, the floor the agent's API is compared with. Runs until SIGTERM.
int RunFloorServer(const std::string& socket_path);

}  // namespace zlayer::bench
