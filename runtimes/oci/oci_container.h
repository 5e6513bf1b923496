// The backend's in-memory view of one container. Private to runtimes/oci.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/synchronization/mutex.h"
#include "base/event_loop.h"
#include "base/unique_fd.h"
#include "cgroups/stats_reader.h"
#include "nlohmann/json.hpp"
#include "runtimes/oci/container_record.h"
#include "runtimes/oci/oci_backend.h"

namespace zlayer::oci {

struct OciBackend::Container {
  core::ContainerId id;
  std::string name;  // "<service>-rep-<N>": also the runtime's container id
  std::string dir;   // <data_dir>/containers/<name>

  // Serialises create/start/stop/remove of this container; never held with mu_
  // across a blocking call.
  absl::Mutex op_mu;
  // Serialises record.json writes (PersistRecord).
  absl::Mutex record_write_mu;

  // Everything below is guarded by OciBackend::mu_.
  ContainerRecordFile record;
  nlohmann::json config;  // the bundle's config.json, for exec
  core::ContainerState state;
  std::optional<core::WaitOutcome> outcome;
  std::optional<uint32_t> init_pid;
  unsigned long long init_start_ticks = 0;
  pid_t monitor_pid = 0;
  base::UniqueFd monitor_pidfd;
  base::EventLoop::Handle monitor_handle = 0;
  int watch_wd = -1;
  // Set while StartContainer launches it: an early exit is applied by Start itself,
  // after it has published Running, so that watchers see transitions in order.
  bool starting = false;
  // The pending restart's timer (0 = none); the restart state itself is in record.
  uint64_t restart_timer = 0;
  bool removed = false;
  std::shared_ptr<cgroups::StatsReader> stats;
  network::NetworkMode network_mode;
  // Set while the container's namespace is on a network (kNetwork only).
  std::optional<network::AttachRequest> attach_request;
  std::optional<network::Attachment> attachment;

  // Failed with `why`, and the runtime-error outcome that Wait reports for it.
  // Callers hold OciBackend::mu_.
  void MarkFailed(std::string why, std::optional<absl::Time> finished_at) {
    outcome = core::WaitOutcome::RuntimeError(why, finished_at);
    state = core::ContainerState::Failed(std::move(why));
  }

  std::string StateDir() const { return dir + "/state"; }
  std::string Rootfs() const { return dir + "/rootfs"; }
  std::string LogDir() const { return dir + "/logs"; }
  std::string RecordPath() const { return dir + "/record.json"; }
  std::string ConfigPath() const { return dir + "/config.json"; }
  // hosts, resolv.conf and hostname, bind-mounted into the container's /etc.
  std::string EtcDir() const { return dir + "/etc"; }
};

}  // namespace zlayer::oci
