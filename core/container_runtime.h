// The ContainerRuntime interface: everything the agent can do with containers.
// Images are the other half of the contract and live behind core/image_service.h,
// so a backend implements only what it owns (the OCI backend containers, the image
// store images; the mock, which mirrors the contract's mock, both).
//
// Backends (runtimes/mock, runtimes/oci) implement it; agentd/ serves it over gRPC.
// Threading: every method may be called from any thread concurrently. Methods that
// return a value may block (runtime CLI calls, disk, network) and are called from
// the agent's work queue, never from a gRPC reaction. Callbacks given to streaming
// methods run on backend threads and must not block.
//
// Errors follow core/errors.h: NOT_FOUND for an unknown container or image,
// INVALID_ARGUMENT for bad input, FAILED_PRECONDITION for the wrong state,
// UNIMPLEMENTED for optional operations the backend lacks, UNAVAILABLE when an
// image cannot be pulled, INTERNAL for runtime failures (with their stderr).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/image_types.h"
#include "core/log_cursor.h"
#include "core/service_spec.h"
#include "core/types.h"

namespace zlayer::core {

using ExecEventFn = std::function<void(ExecEvent)>;
using WatchFn = std::function<void(const WatchEvent&)>;

class ContainerRuntime {
 public:
  virtual ~ContainerRuntime() = default;

  // Short name of the backend ("mock", "oci") and of the OCI runtime in use
  // ("runc 1.1.5"), for logs and GetAgentInfo.
  virtual std::string BackendName() const = 0;
  virtual std::string RuntimeDescription() const { return {}; }
  // Processes supervising containers now (the OCI backend's zlayer-monitor), for
  // metrics; nullopt for a backend that has none.
  virtual std::optional<size_t> MonitorCount() { return std::nullopt; }

  // Lifecycle -----------------------------------------------------------------

  // ALREADY_EXISTS when the id is taken; INVALID_ARGUMENT for a spec the backend
  // cannot honour in full.
  virtual absl::Status CreateContainer(const ContainerId& id, const ServiceSpec& spec,
                                       const std::string& deployment) = 0;
  virtual absl::Status StartContainer(const ContainerId& id) = 0;
  // Sends the stop signal, waits up to `timeout` (default: the spec's grace period,
  // else 10s), then SIGKILL.
  virtual absl::Status StopContainer(const ContainerId& id,
                                     std::optional<absl::Duration> timeout) = 0;
  // `signal` is checked with ValidateSignal; absent = SIGKILL.
  virtual absl::Status KillContainer(const ContainerId& id, std::optional<std::string> signal);
  // A running container is refused (FAILED_PRECONDITION) unless `force`.
  virtual absl::Status RemoveContainer(const ContainerId& id, bool force) = 0;

  // Queries -------------------------------------------------------------------

  virtual absl::StatusOr<ContainerState> GetContainerState(const ContainerId& id) = 0;
  virtual absl::StatusOr<std::vector<ContainerRecord>> ListContainers(
      const ContainerFilter& filter) = 0;
  virtual absl::StatusOr<ContainerRecord> DescribeContainer(const ContainerId& id) = 0;
  virtual absl::StatusOr<std::optional<uint32_t>> GetContainerPid(const ContainerId& id) = 0;
  virtual absl::StatusOr<std::optional<std::string>> GetContainerIp(const ContainerId& id) = 0;
  // None on Linux: every container has its own network identity.
  virtual absl::StatusOr<std::optional<uint16_t>> GetContainerPortOverride(const ContainerId& id);
  // All-empty details by default.
  virtual absl::StatusOr<ContainerInspectDetails> InspectDetailed(const ContainerId& id);
  // Flushes named volumes to remote storage; a no-op by default.
  virtual absl::Status SyncContainerVolumes(const ContainerId& id);

  // Logs ----------------------------------------------------------------------

  // The last `tail` lines (0 = all).
  virtual absl::StatusOr<std::vector<LogEntry>> ContainerLogs(const ContainerId& id,
                                                              uint32_t tail) = 0;
  // All lines.
  virtual absl::StatusOr<std::vector<LogEntry>> GetLogs(const ContainerId& id);
  // A cursor over the container's log. The default reads ContainerLogs once and does
  // not follow; backends with live logs override it.
  virtual absl::StatusOr<std::unique_ptr<LogCursor>> OpenLogs(const ContainerId& id,
                                                              const LogQuery& query);

  // Exec ----------------------------------------------------------------------

  // FAILED_PRECONDITION when the container is not running.
  virtual absl::StatusOr<ExecResult> Exec(const ExecRequest& request) = 0;
  // Emits output as it is produced, then exactly one kExit event, always last.
  // Errors before the process starts are returned; later ones end the stream with
  // an exit event carrying a status. The default runs Exec and emits its buffered
  // output as one stdout and one stderr event. Destroying the subscription cancels
  // the exec (and kills the process).
  virtual absl::StatusOr<std::unique_ptr<Subscription>> ExecStream(const ExecRequest& request,
                                                                   ExecEventFn on_event);

  // Stats ---------------------------------------------------------------------

  virtual absl::StatusOr<ContainerStats> GetContainerStats(const ContainerId& id) = 0;
  // Stats of every running container matching `filter`; containers that exit during
  // the call are left out. The default calls GetContainerStats for each.
  virtual absl::StatusOr<std::vector<ContainerStats>> ListContainerStats(
      const ContainerFilter& filter);

  // Wait ----------------------------------------------------------------------

  // Blocks until the container exits; its exit code.
  virtual absl::StatusOr<int> WaitContainer(const ContainerId& id) = 0;
  // Blocks until the container exits; the classified outcome. The default wraps
  // WaitContainer into a plain "exited" outcome.
  virtual absl::StatusOr<WaitOutcome> WaitOutcomeOf(const ContainerId& id);
  // Calls `on_event` with the current state, then on every transition, and last
  // with the outcome once the container has exited. The default blocks the calling
  // thread in WaitOutcomeOf and is meant only for backends without events.
  virtual absl::StatusOr<std::unique_ptr<Subscription>> Watch(const ContainerId& id,
                                                              WatchFn on_event);
};

}  // namespace zlayer::core
