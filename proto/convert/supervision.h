// The supervision parts of the wire contract: health checks, restart policies,
// init actions and the restart policy's report (docs/supervision.md). FromProto
// checks what the C++ types cannot say (a known policy name, durations that are
// not negative, one action per init step) and answers INVALID_ARGUMENT naming the
// field, since these arrive from clients.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/service_spec.h"
#include "core/types.h"
#include "zlayer/agent/v1/runtime.pb.h"
#include "zlayer/agent/v1/spec.pb.h"

namespace zlayer::proto {

namespace pb = ::zlayer::agent::v1;

// `field` is the message's path in errors, e.g. "spec.health".
absl::StatusOr<core::HealthSpec> FromProto(const pb::HealthSpec& health, absl::string_view field);
pb::HealthSpec ToProto(const core::HealthSpec& health);

absl::StatusOr<core::RestartPolicy> FromProto(const pb::RestartPolicy& policy,
                                              absl::string_view field);
pb::RestartPolicy ToProto(const core::RestartPolicy& policy);

absl::StatusOr<std::vector<core::InitAction>> FromProto(
    const google::protobuf::RepeatedPtrField<pb::InitAction>& steps, absl::string_view field);
pb::InitAction ToProto(const core::InitAction& step);

pb::Supervision ToProto(const core::SupervisionDetail& detail);
core::SupervisionDetail FromProto(const pb::Supervision& supervision);

}  // namespace zlayer::proto
