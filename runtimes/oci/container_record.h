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
  bool runtime_error = false;
  std::optional<absl::Time> finished_at;
  std::string error;

  core::WaitOutcome ToOutcome() const;
  core::ContainerState ToState() const;
};
absl::StatusOr<ExitRecord> ReadExitRecord(const std::string& path);

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
