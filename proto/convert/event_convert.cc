// Events between core::Event and the wire.
#include <utility>

#include "proto/convert/convert.h"

namespace zlayer::proto {

namespace {

constexpr std::pair<core::EventKind, pb::EventKind> kEventKinds[] = {
    {core::EventKind::kContainerCreated, pb::EVENT_KIND_CONTAINER_CREATED},
    {core::EventKind::kContainerStarted, pb::EVENT_KIND_CONTAINER_STARTED},
    {core::EventKind::kContainerStopping, pb::EVENT_KIND_CONTAINER_STOPPING},
    {core::EventKind::kContainerExited, pb::EVENT_KIND_CONTAINER_EXITED},
    {core::EventKind::kContainerOom, pb::EVENT_KIND_CONTAINER_OOM},
    {core::EventKind::kContainerFailed, pb::EVENT_KIND_CONTAINER_FAILED},
    {core::EventKind::kContainerRemoved, pb::EVENT_KIND_CONTAINER_REMOVED},
    {core::EventKind::kAgentStarted, pb::EVENT_KIND_AGENT_STARTED},
    {core::EventKind::kAgentRecovered, pb::EVENT_KIND_AGENT_RECOVERED},
    {core::EventKind::kContainerHealth, pb::EVENT_KIND_CONTAINER_HEALTH},
    {core::EventKind::kExecStarted, pb::EVENT_KIND_EXEC_STARTED},
    {core::EventKind::kExecExited, pb::EVENT_KIND_EXEC_EXITED},
    {core::EventKind::kImagePulled, pb::EVENT_KIND_IMAGE_PULLED},
    {core::EventKind::kImageImported, pb::EVENT_KIND_IMAGE_IMPORTED},
    {core::EventKind::kImageTagged, pb::EVENT_KIND_IMAGE_TAGGED},
    {core::EventKind::kImageRemoved, pb::EVENT_KIND_IMAGE_REMOVED},
    {core::EventKind::kImagePruned, pb::EVENT_KIND_IMAGE_PRUNED},
};

}  // namespace

pb::EventKind ToProto(core::EventKind kind) {
  for (const auto& [core_kind, pb_kind] : kEventKinds) {
    if (core_kind == kind) return pb_kind;
  }
  return pb::EVENT_KIND_UNSPECIFIED;
}

std::optional<core::EventKind> EventKindFromProto(pb::EventKind kind) {
  for (const auto& [core_kind, pb_kind] : kEventKinds) {
    if (pb_kind == kind) return core_kind;
  }
  return std::nullopt;
}

pb::Event ToProto(const core::Event& event) {
  pb::Event out;
  out.set_sequence(event.sequence);
  *out.mutable_time() = ToProto(event.time);
  out.set_kind(ToProto(event.kind));
  if (event.container) *out.mutable_container() = ToProto(*event.container);
  out.set_deployment(event.deployment);
  if (event.state) *out.mutable_state() = ToProto(*event.state);
  if (event.outcome) *out.mutable_outcome() = ToProto(*event.outcome);
  out.set_image(event.image);
  out.set_message(event.message);
  return out;
}

}  // namespace zlayer::proto
