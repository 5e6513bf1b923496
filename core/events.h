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
  // message: the new status (healthy, unhealthy, starting) and the probe's output.
  kContainerHealth,
  // An exec's process (not a health probe's): message is the command line; the exit
  // event's outcome carries the exit code.
  kExecStarted,
  kExecExited,
  // image: the reference; message: the digest, or what was tagged or reclaimed.
  kImagePulled,
  kImageImported,
  kImageTagged,
  kImageRemoved,
  kImagePruned,
};

// Stable lower-case names ("container_exited"), for the journal and the CLI.
const char* EventKindName(EventKind kind);
std::optional<EventKind> EventKindFromName(const std::string& name);
// Every kind's name, comma-separated, for help and error messages.
std::string EventKindNames();

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

// kExecStarted (exit_code absent) or kExecExited of `command` in a container; the
// command line is shortened to a few hundred bytes, as an event is not a log.
Event ExecNodeEvent(const ContainerId& id, const std::string& deployment,
                    const std::vector<std::string>& command, std::optional<int> exit_code);

// A health status change ("healthy", "unhealthy", "starting") with the probe's output.
Event HealthNodeEvent(const ContainerId& id, const std::string& deployment,
                      const std::string& status, const std::string& output);

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
