// The vocabulary of image management: what ImageService takes and returns.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/service_spec.h"

namespace zlayer::core {

struct ImageInfo {
  std::string reference;
  std::optional<std::string> digest;
  std::optional<uint64_t> size_bytes;
  std::optional<absl::Time> created_at;
  uint32_t containers = 0;
};

struct PruneResult {
  std::vector<std::string> deleted;
  uint64_t space_reclaimed = 0;
};

struct PullRequest {
  std::string image;
  PullPolicy policy = PullPolicy::kIfNotPresent;
  std::optional<RegistryAuth> auth;
};

struct PullProgress {
  enum class Kind { kLayer, kStatus };
  Kind kind = Kind::kStatus;
  std::string status;  // kStatus
  // kLayer:
  std::string digest;
  uint64_t bytes_done = 0;
  uint64_t bytes_total = 0;
  enum class LayerState { kWaiting, kDownloading, kVerified, kExtracting, kDone, kAlreadyExists };
  LayerState layer_state = LayerState::kWaiting;
};

struct PullResult {
  std::string reference;
  std::string digest;
  bool already_present = false;
  uint64_t size_bytes = 0;
};

struct ImportResult {
  std::string reference;
  std::string digest;
};

}  // namespace zlayer::core
