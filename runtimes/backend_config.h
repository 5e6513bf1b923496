// Settings a backend is created with. Plain data, filled by agentd from its config
// file and flags.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "runtimes/container_auth.h"

namespace zlayer::runtimes {

struct RegistryConfig {
  // Hosts ("host" or "host:port") reached over plain HTTP. Loopback registries are
  // always allowed over HTTP, as Docker allows.
  std::vector<std::string> insecure;
  // Extra CA bundle (PEM) trusted beside the system CAs; empty = none.
  std::string ca_file;
  // Docker-format config.json with "auths" keyed by registry host; empty = none.
  std::string credentials_file;
  // Parallel layer downloads per pull.
  int max_parallel_downloads = 3;
  // Refuse layers that decompress to more than this.
  uint64_t max_layer_bytes = 8ull << 30;
};

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
  RegistryConfig registries;
  // Container log files rotate at this size; this many rotated files are kept.
  uint64_t log_max_bytes = 10ull << 20;
  int log_max_files = 3;
  // Exec output kept per stream for buffered exec.
  uint64_t exec_max_output = 16ull << 20;
  // Call-back credentials injected into every container (off unless configured).
  ContainerAuthConfig container_auth;
};

}  // namespace zlayer::runtimes
