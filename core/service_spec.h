// The C++ form of a ServiceSpec: what a container is created from. proto/ converts
// the wire message to and from it; deploy/ builds it from YAML.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace zlayer::core {

enum class PullPolicy { kIfNotPresent, kAlways, kNever };

struct RegistryAuth {
  std::string username;
  std::string password;  // never logged
};

enum class ServiceType { kService, kJob };

struct ImageSpec {
  std::string name;
  PullPolicy pull_policy = PullPolicy::kIfNotPresent;
  std::optional<RegistryAuth> auth;
};

struct CommandSpec {
  std::vector<std::string> entrypoint;
  std::vector<std::string> args;
  std::string workdir;
};

struct ResourceSpec {
  std::optional<double> cpu;  // cores
  std::optional<uint64_t> memory_bytes;
  std::optional<int64_t> pids_limit;
};

enum class EndpointProtocol { kHttp, kHttps, kTcp, kUdp };

struct EndpointSpec {
  std::string name;
  EndpointProtocol protocol = EndpointProtocol::kHttp;
  uint32_t port = 0;
  uint32_t target_port = 0;  // 0 = port
};

enum class StorageType { kBind, kNamed, kTmpfs };

struct StorageSpec {
  StorageType type = StorageType::kBind;
  std::string source;  // host path (bind) or volume name (named)
  std::string target;
  bool readonly = false;
  uint64_t size_bytes = 0;  // tmpfs
};

struct HealthSpec {
  enum class Check { kNone, kTcp, kHttp, kCommand };
  absl::Duration start_grace = absl::ZeroDuration();
  absl::Duration interval = absl::ZeroDuration();
  absl::Duration timeout = absl::ZeroDuration();
  uint32_t retries = 0;
  Check check = Check::kNone;
  uint32_t tcp_port = 0;
  std::string http_url;
  uint32_t http_expect_status = 0;
  std::vector<std::string> command;
  // Unhealthy (after `retries` failed probes) stops the container so that its
  // restart policy applies, as a kubelet liveness probe does (docs/supervision.md).
  bool restart_on_unhealthy = false;
};

// What the node does when a container ends on its own (docs/supervision.md).
struct RestartPolicy {
  enum class Mode { kNo, kOnFailure, kAlways, kUnlessStopped };
  Mode mode = Mode::kNo;
  // on-failure only: give up after this many restarts; 0 = no limit.
  uint32_t max_retries = 0;
  // Delay before restart k (k = consecutive quick failures) is base * 2^k, capped
  // at `max`; a run that lasted `reset_after` resets k. Zero = the agent's default.
  absl::Duration backoff_base = absl::ZeroDuration();
  absl::Duration backoff_max = absl::ZeroDuration();
  absl::Duration reset_after = absl::ZeroDuration();
};

// One step run before the main process; the container is Initializing meanwhile.
struct InitAction {
  enum class Kind { kWaitTcp, kWaitHttp, kRun };
  // Names the step in a failure reason; empty = "init[<index>]".
  std::string name;
  Kind kind = Kind::kWaitTcp;
  // kWaitTcp: host (default 127.0.0.1, in the container's network namespace) and port.
  std::string host;
  uint32_t port = 0;
  // kWaitHttp: a GET of `url` answering `expect_status` (0 = any 2xx).
  std::string url;
  uint32_t expect_status = 0;
  // kRun: argv run in a short-lived container of the same image, rootfs and mounts.
  std::vector<std::string> command;
  // One attempt's bound (a wait keeps trying until it); zero = 30 s.
  absl::Duration timeout = absl::ZeroDuration();
  // Attempts after the first failed one.
  uint32_t retries = 0;
};

struct ServiceSpec {
  ServiceType rtype = ServiceType::kService;
  ImageSpec image;
  CommandSpec command;
  std::map<std::string, std::string> env;
  ResourceSpec resources;
  std::vector<EndpointSpec> endpoints;
  uint32_t replicas = 0;
  std::vector<StorageSpec> storage;
  std::string user;
  std::string hostname;
  std::vector<std::string> cap_add;
  std::vector<std::string> cap_drop;
  bool privileged = false;
  bool read_only_root_fs = false;
  std::string stop_signal;
  std::optional<absl::Duration> stop_grace_period;
  std::map<std::string, std::string> labels;
  std::optional<HealthSpec> health;
  // "bridge", "none", "host", a configured network's name, or empty for the
  // agent's default (network/network.h ParseNetworkMode).
  std::string network;
  RestartPolicy restart;
  std::vector<InitAction> init;
  // A small init as PID 1 that forwards signals and reaps zombies (docker run
  // --init); unset = the agent's default.
  std::optional<bool> init_process;
};

}  // namespace zlayer::core
