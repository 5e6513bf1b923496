// The restart policy's state as it is kept in record.json, so that counts, backoff
// and the pending restart survive an agent restart.
#pragma once

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "supervise/restart_policy.h"

namespace zlayer::oci {

nlohmann::json RestartStateToJson(const supervise::RestartState& state);
// INVALID_ARGUMENT for a damaged value; absent keys keep their defaults.
absl::StatusOr<supervise::RestartState> RestartStateFromJson(const nlohmann::json& j);

}  // namespace zlayer::oci
