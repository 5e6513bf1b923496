// How the image store reaches registries. Plain data, filled by agentd from its
// config file and flags.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace zlayer::images {

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

}  // namespace zlayer::images
