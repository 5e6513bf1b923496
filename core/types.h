// The vocabulary of the Runtime interface: identities, states, outcomes, events.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/cgroup_stats.h"
#include "core/service_spec.h"

namespace zlayer::core {

// A replica of a service, shown as "<service>-rep-<replica>".
struct ContainerId {
  std::string service;
  uint32_t replica = 0;

  std::string ToString() const;
  // Accepts "<service>-rep-<N>"; the service part may itself contain "-rep-".
  static absl::StatusOr<ContainerId> Parse(absl::string_view name);

  friend bool operator==(const ContainerId& a, const ContainerId& b) {
    return a.replica == b.replica && a.service == b.service;
  }
  friend bool operator!=(const ContainerId& a, const ContainerId& b) { return !(a == b); }
  friend bool operator<(const ContainerId& a, const ContainerId& b) {
    return a.service != b.service ? a.service < b.service : a.replica < b.replica;
  }
  template <typename H>
  friend H AbslHashValue(H h, const ContainerId& id) {
    return H::combine(std::move(h), id.service, id.replica);
  }
};

// Service names become file names, cgroup names and runtime ids: a restricted
// alphabet keeps them safe everywhere. INVALID_ARGUMENT names what is wrong.
absl::Status ValidateContainerId(const ContainerId& id);

// A ServiceSpec's `network`: empty, "none", "host", "bridge", or a network name,
// which becomes a CNI network name and a file name, so letters, digits, '-', '_'
// and '.', starting with a letter or digit, at most 64. Whether the network exists
// is the node's to say (network::NetworkManager::Validate).
absl::Status ValidateNetworkName(absl::string_view name);

struct ContainerState {
  enum class Phase { kPending, kInitializing, kRunning, kStopping, kExited, kFailed };
  Phase phase = Phase::kPending;
  int exit_code = 0;   // kExited
  std::string reason;  // kFailed

  static ContainerState Pending() { return {Phase::kPending, 0, {}}; }
  static ContainerState Initializing() { return {Phase::kInitializing, 0, {}}; }
  static ContainerState Running() { return {Phase::kRunning, 0, {}}; }
  static ContainerState Stopping() { return {Phase::kStopping, 0, {}}; }
  static ContainerState Exited(int code) { return {Phase::kExited, code, {}}; }
  static ContainerState Failed(std::string why) { return {Phase::kFailed, 0, std::move(why)}; }

  bool IsTerminal() const { return phase == Phase::kExited || phase == Phase::kFailed; }
  // "running", "exited(3)", "failed: <reason>".
  std::string ToString() const;

  friend bool operator==(const ContainerState& a, const ContainerState& b) {
    return a.phase == b.phase && a.exit_code == b.exit_code && a.reason == b.reason;
  }
  friend bool operator!=(const ContainerState& a, const ContainerState& b) { return !(a == b); }
};

// "pending", "initializing", "running", "stopping", "exited", "failed".
const char* PhaseName(ContainerState::Phase phase);

enum class WaitReason { kExited, kSignal, kOomKilled, kRuntimeError };

// The wire names: "exited", "signal", "oom_killed", "runtime_error".
const char* WaitReasonName(WaitReason reason);
std::optional<WaitReason> ParseWaitReason(absl::string_view name);

struct WaitOutcome {
  int exit_code = 0;
  WaitReason reason = WaitReason::kExited;
  std::optional<std::string> signal;
  std::optional<absl::Time> finished_at;
  std::string message;  // runtime error text

  // A plain exit with no signal or timestamp: what a backend without richer
  // information reports.
  static WaitOutcome Exited(int exit_code) {
    WaitOutcome outcome;
    outcome.exit_code = exit_code;
    return outcome;
  }
  // The runtime, the monitor or the agent failed the container: exit code 128 (no
  // process status is known), reason runtime_error, and why.
  static WaitOutcome RuntimeError(std::string why, std::optional<absl::Time> finished_at) {
    WaitOutcome outcome;
    outcome.exit_code = 128;
    outcome.reason = WaitReason::kRuntimeError;
    outcome.message = std::move(why);
    outcome.finished_at = finished_at;
    return outcome;
  }
};

// Exec ------------------------------------------------------------------------

struct ExecRequest {
  ContainerId id;
  std::vector<std::string> command;
  std::map<std::string, std::string> env;
  std::string workdir;
  std::string user;
  std::optional<absl::Duration> timeout;
};

struct ExecResult {
  int exit_code = 0;
  std::string stdout_data;
  std::string stderr_data;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
};

struct ExecEvent {
  enum class Kind { kStdout, kStderr, kExit };
  Kind kind = Kind::kStdout;
  std::string data;   // kStdout, kStderr
  int exit_code = 0;  // kExit
  // kExit only: non-OK when the exec ended abnormally (server-side timeout, lost
  // process); the exit code is still the best known one.
  absl::Status status;

  static ExecEvent Stdout(std::string d) { return {Kind::kStdout, std::move(d), 0, {}}; }
  static ExecEvent Stderr(std::string d) { return {Kind::kStderr, std::move(d), 0, {}}; }
  static ExecEvent Exit(int code, absl::Status s = absl::OkStatus()) {
    return {Kind::kExit, {}, code, std::move(s)};
  }
};

// Logs ------------------------------------------------------------------------

enum class LogStream { kStdout, kStderr };

struct LogSource {
  enum class Kind { kContainer, kJob };
  Kind kind = Kind::kContainer;
  std::string name;
};

struct LogEntry {
  absl::Time timestamp;
  LogStream stream = LogStream::kStdout;
  std::string message;
  LogSource source;
  std::optional<std::string> service;
  std::optional<std::string> deployment;
  bool partial = false;
};

struct LogQuery {
  uint32_t tail = 0;  // 0 = all
  bool follow = false;
  std::optional<absl::Time> since;
};

// Inspect ---------------------------------------------------------------------

struct PortMapping {
  uint32_t container_port = 0;
  uint32_t host_port = 0;
  std::string protocol;  // "tcp" / "udp"
  std::string host_ip;
};

struct NetworkAttachmentDetail {
  std::string network;
  std::vector<std::string> aliases;
  std::optional<std::string> ipv4;
};

struct HealthDetail {
  std::string status = "none";
  std::optional<uint32_t> failing_streak;
  std::optional<std::string> last_output;
};

struct ContainerInspectDetails {
  std::vector<PortMapping> ports;
  std::vector<NetworkAttachmentDetail> networks;
  std::optional<std::string> ipv4;
  std::optional<HealthDetail> health;
  std::optional<int> exit_code;
};

// Supervision (docs/supervision.md) ---------------------------------------------

// One end of a run the restart policy judged.
struct RestartHistoryEntry {
  WaitOutcome outcome;
  // "exited" (it ended by itself) or "unhealthy" (the agent stopped it for failing
  // its health check).
  std::string cause = "exited";
  bool restarted = false;
};

// The restart policy's view of a container. The contract has no phase for "waiting
// to restart": the container stays Exited/Failed, `next_restart_at` says when it
// starts again.
struct SupervisionDetail {
  std::string policy = "no";  // "no", "on-failure", "on-failure:3", "always", "unless-stopped"
  uint32_t restart_count = 0;
  std::optional<absl::Time> next_restart_at;  // set while waiting to restart
  // Why the policy will not restart it (empty while it would): "stopped through the
  // API", "on-failure limit reached (3 restarts)", "exited 0".
  std::string not_restarting;
  std::vector<RestartHistoryEntry> history;  // newest last, at most 10
};

// What the backend keeps about a container, for listings and inspect.
struct ContainerRecord {
  ContainerId id;
  std::string deployment;
  std::string image;
  std::string image_digest;
  ContainerState state;
  std::optional<absl::Time> created_at;
  std::optional<absl::Time> started_at;
  std::optional<uint32_t> pid;
  std::optional<WaitOutcome> outcome;
  std::map<std::string, std::string> labels;
  ServiceSpec spec;  // credentials removed
  std::map<std::string, std::string> annotations;
  std::optional<SupervisionDetail> supervision;  // set when the policy is not "no"
};

struct ContainerFilter {
  std::string service;     // empty = any
  std::string deployment;  // empty = any
  std::optional<ContainerState::Phase> phase;

  bool Matches(const ContainerRecord& r) const;
};

// Stats -----------------------------------------------------------------------

struct ContainerStats {
  ContainerId id;
  absl::Time timestamp;
  // Core fields (cpu_usage_usec, memory_bytes, memory_limit) and extras.
  core::CgroupStats cgroup;
};

// Streams ---------------------------------------------------------------------

// One event of a Watch: the state after a transition, and on the last event the
// outcome (or the error that ended the watch).
struct WatchEvent {
  ContainerState state;
  std::optional<WaitOutcome> outcome;
  absl::Status error;  // non-OK ends the watch, e.g. NOT_FOUND after a removal
  bool IsLast() const { return outcome.has_value() || !error.ok(); }
};

// Ends a subscription on destruction. Once the destructor returns, the callback the
// subscription was made with is not running and will not run again.
class Subscription {
 public:
  virtual ~Subscription() = default;
};

}  // namespace zlayer::core
