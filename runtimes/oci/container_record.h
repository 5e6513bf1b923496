// What the agent keeps on disk about a container, so that a restarted agent knows
// every container it made: <data_dir>/containers/<name>/record.json.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/service_spec.h"
#include "core/types.h"
#include "nlohmann/json.hpp"
#include "supervise/restart_policy.h"

namespace zlayer::oci {

struct ContainerRecordFile {
  core::ContainerId id;
  std::string deployment;
  core::ServiceSpec spec;       // credentials removed
  std::string image_reference;  // canonical reference the image resolved to
  std::string manifest_digest;
  std::string image_stop_signal;  // the image's StopSignal, used when the spec has none
  absl::Time created_at;
  // Set at each start; a record with it and without an exit record was running
  // when the agent last looked.
  std::optional<absl::Time> started_at;
  // The network attachment (network::AttachmentToJson) while there is one.
  std::string network_attachment;
  // Whether PID 1 is the agent's small init (spec.init_process or the agent's
  // default, resolved at create): its exit code then stands for the workload's.
  bool init_process = false;
  // The restart policy's counters and history (docs/supervision.md).
  supervise::RestartState restart;
};

absl::Status WriteRecord(const std::string& path, const ContainerRecordFile& record);
// INVALID_ARGUMENT when the file is damaged; NOT_FOUND when absent.
absl::StatusOr<ContainerRecordFile> ReadRecord(const std::string& path);

nlohmann::json SpecToJson(const core::ServiceSpec& spec);
absl::StatusOr<core::ServiceSpec> SpecFromJson(const nlohmann::json& j);

// What the monitor writes when the container ends: <state>/exit.json.
struct ExitRecord {
  int exit_code = 0;
  int signal = 0;
  bool oom_killed = false;
  // The cgroup's OOM kill count at the end: with an init as PID 1 the workload, not
  // PID 1, is what the kernel kills, so oom_killed alone misses it.
  uint64_t oom_kills = 0;
  bool runtime_error = false;
  std::optional<absl::Time> finished_at;
  std::string error;
  // Set by the reader from the container record: PID 1 was the agent's init, which
  // reports a workload killed by signal N as exit code 128+N.
  bool via_init = false;

  core::WaitOutcome ToOutcome() const;
  core::ContainerState ToState() const;
};
absl::StatusOr<ExitRecord> ReadExitRecord(const std::string& path);
// The agent's own exit record, for an end the monitor could not record (it died,
// or the start failed before a monitor ran); same format as the monitor's.
absl::Status WriteExitRecord(const std::string& path, const ExitRecord& record);

// What the monitor writes once the container runs: <state>/monitor.json.
struct MonitorRecord {
  pid_t monitor_pid = 0;
  unsigned long long monitor_start_ticks = 0;
  pid_t init_pid = 0;
  unsigned long long init_start_ticks = 0;
  std::optional<absl::Time> started_at;
};
absl::StatusOr<MonitorRecord> ReadMonitorRecord(const std::string& path);

// Field 22 of /proc/PID/stat; 0 when the process is gone.
unsigned long long ProcessStartTicks(pid_t pid);

}  // namespace zlayer::oci
