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
};

}  // namespace zlayer::core
