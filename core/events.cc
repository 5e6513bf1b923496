#include "core/events.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace zlayer::core {
namespace {

constexpr std::pair<EventKind, const char*> kNames[] = {
    {EventKind::kContainerCreated, "container_created"},
    {EventKind::kContainerStarted, "container_started"},
    {EventKind::kContainerStopping, "container_stopping"},
    {EventKind::kContainerExited, "container_exited"},
    {EventKind::kContainerOom, "container_oom"},
    {EventKind::kContainerFailed, "container_failed"},
    {EventKind::kContainerRemoved, "container_removed"},
    {EventKind::kAgentStarted, "agent_started"},
    {EventKind::kAgentRecovered, "agent_recovered"},
    {EventKind::kContainerHealth, "container_health"},
    {EventKind::kExecStarted, "exec_started"},
    {EventKind::kExecExited, "exec_exited"},
    {EventKind::kImagePulled, "image_pulled"},
    {EventKind::kImageImported, "image_imported"},
    {EventKind::kImageTagged, "image_tagged"},
    {EventKind::kImageRemoved, "image_removed"},
    {EventKind::kImagePruned, "image_pruned"},
};

}  // namespace

const char* EventKindName(EventKind kind) {
  for (const auto& [k, name] : kNames) {
    if (k == kind) return name;
  }
  return "unknown";
}

std::optional<EventKind> EventKindFromName(const std::string& name) {
  for (const auto& [k, n] : kNames) {
    if (name == n) return k;
  }
  return std::nullopt;
}

Event ExecNodeEvent(const ContainerId& id, const std::string& deployment,
                    const std::vector<std::string>& command, std::optional<int> exit_code) {
  constexpr size_t kMaxMessage = 256;
  Event event;
  event.kind = exit_code ? EventKind::kExecExited : EventKind::kExecStarted;
  event.container = id;
  event.deployment = deployment;
  event.message = absl::StrJoin(command, " ");
  if (event.message.size() > kMaxMessage)
    event.message = event.message.substr(0, kMaxMessage) + "...";
  if (exit_code) event.outcome = WaitOutcome::Exited(*exit_code);
  return event;
}

Event HealthNodeEvent(const ContainerId& id, const std::string& deployment,
                      const std::string& status, const std::string& output) {
  constexpr size_t kMaxOutput = 256;
  Event event;
  event.kind = EventKind::kContainerHealth;
  event.container = id;
  event.deployment = deployment;
  event.message = status;
  if (!output.empty()) {
    absl::StrAppend(&event.message, ": ", output.substr(0, kMaxOutput));
  }
  return event;
}

std::string EventKindNames() {
  std::vector<const char*> names;
  for (const auto& [kind, name] : kNames) names.push_back(name);
  return absl::StrJoin(names, ", ");
}

bool EventFilter::Matches(const Event& event) const {
  if (!kinds.empty() && std::find(kinds.begin(), kinds.end(), event.kind) == kinds.end()) {
    return false;
  }
  const bool scoped = !containers.empty() || !service.empty() || !deployment.empty();
  if (scoped && !event.container) return false;  // agent events carry no container
  if (!containers.empty() &&
      std::find(containers.begin(), containers.end(), *event.container) == containers.end()) {
    return false;
  }
  if (!service.empty() && event.container->service != service) return false;
  if (!deployment.empty() && event.deployment != deployment) return false;
  return true;
}

}  // namespace zlayer::core
