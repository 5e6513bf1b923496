#include "core/events.h"

#include <algorithm>
#include <utility>

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
