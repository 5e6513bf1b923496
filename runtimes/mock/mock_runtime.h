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
#include "core/container_runtime.h"
#include "core/events.h"
#include "core/image_service.h"
#include "runtimes/state_bus.h"

namespace zlayer::runtimes {

// Both halves of the contract, as the reference mock is one object.
class MockRuntime final : public core::ContainerRuntime, public core::ImageService {
 public:
  // `events`: where state changes are journaled (may be null); must outlive this.
  explicit MockRuntime(core::EventSink* events = nullptr) : events_(events) {}

  std::string BackendName() const override { return "mock"; }

  absl::StatusOr<core::PullResult> PullImage(const core::PullRequest& request,
                                             const core::PullProgressFn& progress) override;
  absl::StatusOr<std::vector<core::ImageInfo>> ListImages() override;
  absl::Status RemoveImage(const std::string& image, bool force) override;
  absl::StatusOr<core::PruneResult> PruneImages() override;
  absl::Status TagImage(const std::string& source, const std::string& target) override;

  absl::Status CreateContainer(const core::ContainerId& id, const core::ServiceSpec& spec,
                               const std::string& deployment) override;
  absl::Status StartContainer(const core::ContainerId& id) override;
  absl::Status StopContainer(const core::ContainerId& id,
                             std::optional<absl::Duration> timeout) override;
  absl::Status KillContainer(const core::ContainerId& id,
                             std::optional<std::string> signal) override;
  absl::Status RemoveContainer(const core::ContainerId& id, bool force) override;

  absl::StatusOr<core::ContainerState> GetContainerState(const core::ContainerId& id) override;
  absl::StatusOr<std::vector<core::ContainerRecord>> ListContainers(
      const core::ContainerFilter& filter) override;
  absl::StatusOr<core::ContainerRecord> DescribeContainer(const core::ContainerId& id) override;
  absl::StatusOr<std::optional<uint32_t>> GetContainerPid(const core::ContainerId& id) override;
  absl::StatusOr<std::optional<std::string>> GetContainerIp(const core::ContainerId& id) override;

  absl::StatusOr<std::vector<core::LogEntry>> ContainerLogs(const core::ContainerId& id,
                                                            uint32_t tail) override;
  absl::StatusOr<std::vector<core::LogEntry>> GetLogs(const core::ContainerId& id) override;
  absl::StatusOr<std::unique_ptr<core::LogCursor>> OpenLogs(const core::ContainerId& id,
                                                            const core::LogQuery& query) override;

  absl::StatusOr<core::ExecResult> Exec(const core::ExecRequest& request) override;
  absl::StatusOr<core::ContainerStats> GetContainerStats(const core::ContainerId& id) override;

  absl::StatusOr<int> WaitContainer(const core::ContainerId& id) override;
  absl::StatusOr<std::unique_ptr<core::Subscription>> Watch(const core::ContainerId& id,
                                                            core::WatchFn on_event) override;

 private:
  absl::Status SetState(const core::ContainerId& id, core::ContainerState state,
                        std::optional<core::WaitOutcome> outcome);
  absl::StatusOr<core::ContainerRecord> Find(const core::ContainerId& id) const;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<core::ContainerId, core::ContainerRecord> containers_ ABSL_GUARDED_BY(mu_);
  StateBus bus_;
  core::EventSink* const events_;
};

}  // namespace zlayer::runtimes
