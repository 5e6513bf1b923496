// Conversion between the wire messages (zlayer.agent.v1) and the C++ domain types
// of runtimes/. The daemon uses it at its gRPC edge and the CLI on its side, so a
// spec means the same thing whichever way it arrives.
#pragma once

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/events.h"
#include "core/image_types.h"
#include "core/types.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "zlayer/agent/v1/runtime.pb.h"
#include "zlayer/agent/v1/spec.pb.h"

namespace zlayer::proto {

namespace pb = ::zlayer::agent::v1;

google::protobuf::Timestamp ToProto(absl::Time t);
absl::Time FromProto(const google::protobuf::Timestamp& ts);
google::protobuf::Duration ToProto(absl::Duration d);
absl::Duration FromProto(const google::protobuf::Duration& d);

pb::ContainerId ToProto(const core::ContainerId& id);
// INVALID_ARGUMENT when the id is missing or its service name is not allowed.
absl::StatusOr<core::ContainerId> FromProto(const pb::ContainerId& id);

// INVALID_ARGUMENT for enum values this version does not know, and for restart
// policies and init steps that make no sense (proto/convert/supervision.h); the
// message names the field.
absl::StatusOr<core::ServiceSpec> FromProto(const pb::ServiceSpec& spec);
pb::ServiceSpec ToProto(const core::ServiceSpec& spec);
absl::StatusOr<core::PullPolicy> FromProto(pb::PullPolicy policy);
pb::PullPolicy ToProto(core::PullPolicy policy);

pb::ContainerState ToProto(const core::ContainerState& state);
core::ContainerState FromProto(const pb::ContainerState& state);
pb::ContainerPhase ToProto(core::ContainerState::Phase phase);
std::optional<core::ContainerState::Phase> FromProto(pb::ContainerPhase phase);

pb::WaitOutcome ToProto(const core::WaitOutcome& outcome);
core::WaitOutcome FromProto(const pb::WaitOutcome& outcome);
pb::WaitReason ToProto(core::WaitReason reason);

pb::EventKind ToProto(core::EventKind kind);
std::optional<core::EventKind> EventKindFromProto(pb::EventKind kind);
pb::Event ToProto(const core::Event& event);

pb::LogEntry ToProto(const core::LogEntry& entry);
core::LogEntry FromProto(const pb::LogEntry& entry);

pb::ContainerStats ToProto(const core::ContainerStats& stats);
pb::ImageInfo ToProto(const core::ImageInfo& info);
pb::PullImageEvent ToProto(const core::PullProgress& progress);
pb::PullDone ToProto(const core::PullResult& result);

pb::ContainerSummary ToSummary(const core::ContainerRecord& record);
// The record's part of ContainerInfo; the caller adds ip, port and inspect details.
pb::ContainerInfo ToInfo(const core::ContainerRecord& record);
void AddDetails(const core::ContainerInspectDetails& details, pb::ContainerInfo* info);

absl::StatusOr<core::ExecRequest> FromProto(const pb::ExecRequest& request);
absl::StatusOr<core::ContainerFilter> FromProto(const pb::ListContainersRequest& request);

}  // namespace zlayer::proto
