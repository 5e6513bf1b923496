// Node events: what happened to containers, images and the agent, in one ordered
// history. Backends report through EventSink; the journal (events/) numbers and
// keeps them; agentd serves them (the Events RPC).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/types.h"

namespace zlayer::core {

enum class EventKind {
  kContainerCreated,
  kContainerStarted,
  kContainerStopping,
  kContainerExited,  // outcome set; an OOM kill also gets kContainerOom before it
  kContainerOom,
  kContainerFailed,  // state.reason says why
  kContainerRemoved,
  kAgentStarted,
  kAgentRecovered,  // message: how many containers were found
};

// Stable lower-case names ("container_exited"), for the journal and the CLI.
const char* EventKindName(EventKind kind);
std::optional<EventKind> EventKindFromName(const std::string& name);

struct Event {
  uint64_t sequence = 0;  // set by the journal
  absl::Time time;        // set by the journal when left unset
  EventKind kind = EventKind::kAgentStarted;
  std::optional<ContainerId> container;
  std::string deployment;
  std::optional<ContainerState> state;
  std::optional<WaitOutcome> outcome;
  std::string image;
  std::string message;
};

// Which events a reader wants; empty fields match everything.
struct EventFilter {
  std::vector<ContainerId> containers;
  std::string service;
  std::string deployment;
  std::vector<EventKind> kinds;
  bool Matches(const Event& event) const;
};

class EventSink {
 public:
  virtual ~EventSink() = default;
  // Records a container's state change. Called after the state it describes is
  // durable, possibly under the caller's locks, so it must be quick. A change
  // already recorded for that container (the same phase again, as recovery
  // republishes it) is recorded once.
  virtual void ContainerChanged(const ContainerId& id, const std::string& deployment,
                                const ContainerState& state,
                                const std::optional<WaitOutcome>& outcome,
                                const std::string& image) = 0;
  virtual void ContainerRemoved(const ContainerId& id, const std::string& deployment) = 0;
  // Anything else (agent and image events), recorded as given.
  virtual void Record(Event event) = 0;
};

}  // namespace zlayer::core
