// An in-memory backend that behaves like the contract's reference mock: no images,
// no processes, fixed logs and stats. For developing clients and testing the API.
//
// Where the reference mock is silent about errors, this one follows the agent's
// error model: unknown ids are NOT_FOUND, a duplicate create is ALREADY_EXISTS, and
// exec needs a running container. docs/api.md lists these differences.
#pragma once

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "runtimes/runtime.h"
#include "runtimes/state_bus.h"

namespace zlayer::runtimes {

class MockRuntime final : public Runtime {
 public:
  MockRuntime() = default;

  std::string BackendName() const override { return "mock"; }

  absl::StatusOr<PullResult> PullImage(const PullRequest& request,
                                       const PullProgressFn& progress) override;
  absl::StatusOr<std::vector<ImageInfo>> ListImages() override;
  absl::Status RemoveImage(const std::string& image, bool force) override;
  absl::StatusOr<PruneResult> PruneImages() override;
  absl::Status TagImage(const std::string& source, const std::string& target) override;

  absl::Status CreateContainer(const ContainerId& id, const ServiceSpec& spec,
                               const std::string& deployment) override;
  absl::Status StartContainer(const ContainerId& id) override;
  absl::Status StopContainer(const ContainerId& id,
                             std::optional<absl::Duration> timeout) override;
  absl::Status KillContainer(const ContainerId& id, std::optional<std::string> signal) override;
  absl::Status RemoveContainer(const ContainerId& id, bool force) override;

  absl::StatusOr<ContainerState> GetContainerState(const ContainerId& id) override;
  absl::StatusOr<std::vector<ContainerRecord>> ListContainers(
      const ContainerFilter& filter) override;
  absl::StatusOr<ContainerRecord> DescribeContainer(const ContainerId& id) override;
  absl::StatusOr<std::optional<uint32_t>> GetContainerPid(const ContainerId& id) override;
  absl::StatusOr<std::optional<std::string>> GetContainerIp(const ContainerId& id) override;

  absl::StatusOr<std::vector<LogEntry>> ContainerLogs(const ContainerId& id,
                                                      uint32_t tail) override;
  absl::StatusOr<std::vector<LogEntry>> GetLogs(const ContainerId& id) override;
  absl::StatusOr<std::unique_ptr<LogCursor>> OpenLogs(const ContainerId& id,
                                                      const LogQuery& query) override;

  absl::StatusOr<ExecResult> Exec(const ExecRequest& request) override;
  absl::StatusOr<ContainerStats> GetContainerStats(const ContainerId& id) override;

  absl::StatusOr<int> WaitContainer(const ContainerId& id) override;
  absl::StatusOr<std::unique_ptr<Subscription>> Watch(const ContainerId& id,
                                                      WatchFn on_event) override;

 private:
  absl::Status SetState(const ContainerId& id, ContainerState state,
                        std::optional<WaitOutcome> outcome);
  absl::StatusOr<ContainerRecord> Find(const ContainerId& id) const;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<ContainerId, ContainerRecord> containers_ ABSL_GUARDED_BY(mu_);
  StateBus bus_;
};

}  // namespace zlayer::runtimes
