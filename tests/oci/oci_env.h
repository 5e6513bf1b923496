// A real agent on the OCI backend, with a loopback registry holding a busybox
// image built by the test (from the host's busybox-static), for end-to-end tests
// through the gRPC API with real runtime processes.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "registry_fixture.h"
#include "support/agent_process.h"
#include "zlayer/agent/v1/runtime.grpc.pb.h"

namespace zlayer::testing {

namespace pb = ::zlayer::agent::v1;

class OciEnv {
 public:
  // Starts a registry, pushes the test image, starts an agent on the OCI backend.
  // `root` reuses an agent state directory (for restart tests).
  // Without a --network argument the agent gets `--network none`: tests that are not
  // about networking must not make bridges in the host's namespace. `netns` runs the
  // agent in that namespace; the test image is then imported rather than pulled
  // (the registry listens on the host's loopback).
  explicit OciEnv(std::vector<std::string> agent_args = {}, std::string netns = "");
  ~OciEnv();

  // "127.0.0.1:PORT/test/busybox:latest"
  const std::string& image() const { return image_; }
  AgentProcess& agent() { return *agent_; }
  images::testing::TestRegistry& registry() { return *registry_; }
  pb::RuntimeService::Stub& stub() { return *stub_; }
  // The agent's --data-dir and --run-dir are `data` and `run` below this.
  const std::string& root() const { return root_.path(); }
  // Stops (SIGKILL when `crash`) and starts the agent again over the same state.
  void RestartAgent(bool crash);

  // Helpers that REQUIRE success.
  pb::ContainerId Create(const std::string& service, uint32_t replica, pb::ServiceSpec spec);
  void Start(const pb::ContainerId& id);
  pb::ContainerState State(const pb::ContainerId& id);
  pb::ContainerInfo Inspect(const pb::ContainerId& id);
  // Reads a Wait stream to its end; returns the outcome (the stream must end OK).
  pb::WaitOutcome WaitOutcome(const pb::ContainerId& id, absl::Duration timeout = absl::Seconds(60));
  pb::ExecResponse Exec(const pb::ContainerId& id, const std::vector<std::string>& cmd);
  std::vector<pb::LogEntry> Logs(const pb::ContainerId& id, uint32_t tail = 0);
  void Remove(const pb::ContainerId& id, bool force = true);
  // A spec running `sh -c script` from the test image.
  pb::ServiceSpec Shell(const std::string& script) const;
  // A spec running the image's /bin/hog (tests/support/cgroup_hog.cc) with `args`:
  // "mem N" touches N MiB, "cpu" spins, "fork N" keeps N children.
  pb::ServiceSpec Hog(const std::vector<std::string>& args) const;
  // Waits (REQUIRE, 30 s) until the hog has set up its work: it creates /ready then.
  void AwaitReady(const pb::ContainerId& id);

  // Every container the agent knows is removed at teardown.
 private:
  void StartAgent();
  void ImportTestImage();
  void RemoveCgroups();

  std::unique_ptr<images::testing::TestRegistry> registry_;
  base::TempDir root_;
  std::vector<std::string> agent_args_;
  std::string netns_;
  // Containers of different test processes must not share a cgroup parent.
  std::string cgroup_parent_;
  std::string image_;
  std::unique_ptr<AgentProcess> agent_;
  std::unique_ptr<pb::RuntimeService::Stub> stub_;
};

// True when this host can run the OCI tests (root, a runtime installed).
bool CanRunContainers();

}  // namespace zlayer::testing

// First line of every OCI test case: without root or a runtime it warns and returns.
#define SKIP_UNLESS_CONTAINERS()                                        \
  do {                                                                  \
    if (!::zlayer::testing::CanRunContainers()) {                       \
      WARN("skipped: needs root and an OCI runtime (runc)");            \
      return;                                                           \
    }                                                                   \
  } while (0)
