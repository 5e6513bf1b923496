// Conversion between the wire messages (zlayer.agent.v1) and the C++ domain types
// of runtimes/. The daemon uses it at its gRPC edge and the CLI on its side, so a
// spec means the same thing whichever way it arrives.
#pragma once

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "runtimes/types.h"
#include "zlayer/agent/v1/runtime.pb.h"
#include "zlayer/agent/v1/spec.pb.h"

namespace zlayer::proto {

namespace pb = ::zlayer::agent::v1;

google::protobuf::Timestamp ToProto(absl::Time t);
absl::Time FromProto(const google::protobuf::Timestamp& ts);
google::protobuf::Duration ToProto(absl::Duration d);
absl::Duration FromProto(const google::protobuf::Duration& d);

pb::ContainerId ToProto(const runtimes::ContainerId& id);
// INVALID_ARGUMENT when the id is missing or its service name is not allowed.
absl::StatusOr<runtimes::ContainerId> FromProto(const pb::ContainerId& id);

// INVALID_ARGUMENT for enum values this version does not know.
absl::StatusOr<runtimes::ServiceSpec> FromProto(const pb::ServiceSpec& spec);
pb::ServiceSpec ToProto(const runtimes::ServiceSpec& spec);
absl::StatusOr<runtimes::PullPolicy> FromProto(pb::PullPolicy policy);
pb::PullPolicy ToProto(runtimes::PullPolicy policy);

pb::ContainerState ToProto(const runtimes::ContainerState& state);
runtimes::ContainerState FromProto(const pb::ContainerState& state);
pb::ContainerPhase ToProto(runtimes::ContainerState::Phase phase);
std::optional<runtimes::ContainerState::Phase> FromProto(pb::ContainerPhase phase);

pb::WaitOutcome ToProto(const runtimes::WaitOutcome& outcome);
runtimes::WaitOutcome FromProto(const pb::WaitOutcome& outcome);
pb::WaitReason ToProto(runtimes::WaitReason reason);

pb::LogEntry ToProto(const runtimes::LogEntry& entry);
runtimes::LogEntry FromProto(const pb::LogEntry& entry);

pb::ContainerStats ToProto(const runtimes::ContainerStats& stats);
pb::ImageInfo ToProto(const runtimes::ImageInfo& info);
pb::PullImageEvent ToProto(const runtimes::PullProgress& progress);
pb::PullDone ToProto(const runtimes::PullResult& result);

pb::ContainerSummary ToSummary(const runtimes::ContainerRecord& record);
// The record's part of ContainerInfo; the caller adds ip, port and inspect details.
pb::ContainerInfo ToInfo(const runtimes::ContainerRecord& record);
void AddDetails(const runtimes::ContainerInspectDetails& details, pb::ContainerInfo* info);

absl::StatusOr<runtimes::ExecRequest> FromProto(const pb::ExecRequest& request);
absl::StatusOr<runtimes::ContainerFilter> FromProto(const pb::ListContainersRequest& request);

}  // namespace zlayer::proto
