// Everything a bench run talks to, started here and stopped here: a loopback
// docker-registry holding a busybox image, zlayer-agentd on the OCI backend,
// containerd with its own root, state and socket, and a raw runc root with
// bundles. Every process started (the agent, the registry, containerd, its
// shims, containers, monitors) and every cgroup created is gone after the
// destructor, also after a failed or interrupted case.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/fs_util.h"
#include "base/process.h"
#include "bench/harness/agent_client.h"
#include "bench/harness/bench_agent.h"
#include "nlohmann/json.hpp"
#include "oci_builder.h"
#include "registry_fixture.h"

namespace zlayer::bench {

struct EnvOptions {
  std::string agentd_bin;
  // Data (agent state, containerd root, bundles) lives here, on the disk, as
  // /var/lib would: fsync costs what it costs in production.
  std::string data_parent = "/var/tmp";
  bool containerd = true;
  // The agent serves Prometheus /metrics on a loopback port of its choosing (if
  // the binary knows --metrics-address): the stats case scrapes it. This also
  // turns on the agent's per-RPC metrics interceptor, as it is for any operator
  // who scrapes.
  bool metrics = true;
};

class BenchEnv {
 public:
  static absl::StatusOr<std::unique_ptr<BenchEnv>> Create(const EnvOptions& options);
  ~BenchEnv();

  // Registry and the busybox image in it ("127.0.0.1:PORT/bench/busybox:latest").
  images::testing::TestRegistry& registry() { return *registry_; }
  const std::string& image() const { return image_; }

  // The agent.
  pid_t agent_pid() const { return agent_ ? agent_->pid() : -1; }
  const std::string& agent_socket() const { return agent_->setup().socket; }
  const std::string& agent_data_dir() const { return agent_->setup().data_dir; }
  Stub& stub() { return agent_->stub(); }
  // Where the agent serves /metrics ("127.0.0.1:PORT", GetAgentInfo's
  // metrics_address); empty when it does not.
  const std::string& metrics_address() const { return metrics_address_; }
  // What another agent of this run (the network case's) starts from: the same
  // binary and runc, its own files below `name` in this run's directories.
  BenchAgentSetup AgentSetupFor(const std::string& name) const;
  // The busybox image the registry serves, for agents that cannot reach it.
  const images::testing::BuiltImage& busybox() const { return busybox_; }

  // containerd: `ctr --address SOCK --namespace NS ARGS...`.
  bool has_containerd() const { return containerd_.has_value(); }
  pid_t containerd_pid() const { return containerd_ ? containerd_->pid() : -1; }
  absl::StatusOr<base::RunResult> Ctr(const std::vector<std::string>& args,
                                      absl::Duration timeout = absl::Seconds(120)) const;
  // Like Ctr, failing unless it exits 0.
  absl::Status CtrOk(const std::vector<std::string>& args,
                     absl::Duration timeout = absl::Seconds(120)) const;
  // containerd-shim-runc-v2 processes serving our containerd.
  std::vector<pid_t> ShimPids() const;
  const std::string& ctr_namespace() const { return ctr_namespace_; }
  const std::string& containerd_socket() const { return containerd_socket_; }

  // Raw runc: `runc --root ROOT ARGS...`, and bundles sharing one rootfs made
  // from the same image, with the config the agent itself generates for it (so
  // both run the same container; only the agent's own work differs).
  absl::StatusOr<base::RunResult> Runc(const std::vector<std::string>& args,
                                       absl::Duration timeout = absl::Seconds(60)) const;
  // A bundle whose process is `argv`; returns its directory.
  absl::StatusOr<std::string> MakeRuncBundle(const std::string& name,
                                             const std::vector<std::string>& argv);
  const std::string& runc_path() const { return runc_path_; }
  const std::string& runc_root() const { return runc_root_; }

  // Scratch space on the data disk, removed at the end.
  const std::string& scratch() const { return data_->path(); }
  // Short-pathed scratch space (unix sockets, namespace files), removed at the end.
  const std::string& socket_dir() const { return sock_->path(); }
  // Cgroup parent of the agent's containers and of raw runc containers.
  const std::string& cgroup_parent() const { return cgroup_parent_; }

  // Tools' versions, for the report.
  nlohmann::json Versions() const;
  // What this run creates outside its own process: directories (every process
  // it starts names one of them on its command line, and every mount lies below
  // one) and cgroup names. The smoke test checks that all of it is gone after.
  nlohmann::json Footprint() const;

 private:
  BenchEnv() = default;
  absl::Status Start(const EnvOptions& options);
  absl::Status StartAgent(const EnvOptions& options);
  absl::Status StartContainerd();
  absl::Status PrepareRunc();
  void StopContainerd();
  void StopRunc();

  std::optional<base::TempDir> sock_;  // short paths for unix sockets
  std::optional<base::TempDir> data_;
  std::unique_ptr<images::testing::TestRegistry> registry_;
  images::testing::BuiltImage busybox_;
  std::string image_;

  std::string agentd_bin_;
  std::unique_ptr<BenchAgent> agent_;
  std::string metrics_address_;

  std::optional<base::ChildProcess> containerd_;
  std::string containerd_socket_, ctr_namespace_;

  std::string runc_path_, runc_root_, runc_rootfs_;
  nlohmann::json runc_template_;
  std::vector<std::string> runc_bundles_;

  std::string cgroup_parent_;
};

// rmdir of a cgroup path (e.g. "/zlayer-bench-42") and everything below it, in
// every hierarchy, also where v1 hierarchies nest below this process's own cgroup.
void RemoveCgroupTree(const std::string& cgroup_path);

// Kills (SIGKILL) and reaps or waits out the processes, by pid; they must be ours.
void KillPids(const std::vector<pid_t>& pids);

// Detaches every mount at or below `dir`, deepest first.
void UnmountUnder(const std::string& dir);

// The PATH every tool the bench starts gets.
extern const char kBenchPath[];
// Runs a tool to completion with that PATH.
absl::StatusOr<base::RunResult> RunTool(std::vector<std::string> argv,
                                        absl::Duration timeout = absl::Seconds(60));
// OK when the run exited 0; else INTERNAL with `what` and the first line of its output.
absl::Status ToolSucceeded(const absl::StatusOr<base::RunResult>& run, const std::string& what);

}  // namespace zlayer::bench
