// Settings a backend is created with. Plain data, filled by agentd from its config
// file and flags; each peer module (images, network, auth) owns its own part.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "auth/container_auth.h"
#include "core/events.h"
#include "images/registry_config.h"
#include "network/network_config.h"

namespace zlayer::runtimes {

struct BackendConfig {
  // Persistent state: images, snapshots, container records, volumes, logs.
  std::string data_dir = "/var/lib/zlayer";
  // Volatile state: runtime state, monitor sockets, exit records.
  std::string run_dir = "/run/zlayer";
  // "auto", "youki", "crun", "runc", or a path to a runc-compatible binary.
  std::string oci_runtime = "auto";
  // Where monitors and containers live, apart from the agent's own cgroup.
  std::string cgroup_parent = "/zlayer";
  // Path of the per-container monitor binary; empty = next to the agent.
  std::string monitor_path;
  images::RegistryConfig registries;
  // Container networking (docs/networking.md).
  network::NetworkConfig network;
  // Container log files rotate at this size; this many rotated files are kept.
  uint64_t log_max_bytes = 10ull << 20;
  int log_max_files = 3;
  // Exec output kept per stream for buffered exec.
  uint64_t exec_max_output = 16ull << 20;
  // An init (tini) as PID 1 of containers whose spec does not say (spec.init_process),
  // like `docker run --init`; runtimes/oci/init_process.h.
  bool init_process = false;
  // The init binary on the host; empty = probe (/usr/bin/tini-static first).
  std::string init_path;
  // Call-back credentials injected into every container (off unless configured).
  auth::ContainerAuthConfig container_auth;
  // Where container events are journaled; owned by agentd, outlives the backend.
  // Null: no events.
  core::EventSink* events = nullptr;
};

}  // namespace zlayer::runtimes
