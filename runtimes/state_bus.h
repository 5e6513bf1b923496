// Delivers container state transitions to watchers (Wait streams, log follows,
// stats streams) without a thread per watcher.
#pragma once

#include <cstdint>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "runtimes/runtime.h"
#include "runtimes/types.h"

namespace zlayer::runtimes {

class StateBus {
 public:
  StateBus() = default;
  StateBus(const StateBus&) = delete;
  StateBus& operator=(const StateBus&) = delete;

  // Records the container's latest state (and outcome, once it has exited) and
  // delivers it to every subscriber. Publishing the same state twice delivers once.
  void Publish(const ContainerId& id, const ContainerState& state,
               std::optional<WaitOutcome> outcome = std::nullopt);
  // Forgets a container; its subscribers receive a last event carrying `why`.
  void Remove(const ContainerId& id, const absl::Status& why);

  // Replays the latest state (and outcome) to `fn` before returning, then delivers
  // every later change. NOT_FOUND for a container never published.
  //
  // Callbacks run with the bus locked, which makes destroying a subscription a
  // barrier: once the destructor returns, `fn` is not running. So callbacks must not
  // block, and must not destroy their own subscription.
  absl::StatusOr<std::unique_ptr<Subscription>> Subscribe(const ContainerId& id, WatchFn fn);

  // The latest state, as published; NOT_FOUND for unknown containers.
  absl::StatusOr<WatchEvent> Latest(const ContainerId& id) const;

 private:
  class Token;
  struct Entry {
    WatchEvent latest;
    absl::flat_hash_map<uint64_t, WatchFn> subscribers;
  };
  void Unsubscribe(const ContainerId& id, uint64_t token);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<ContainerId, Entry> entries_ ABSL_GUARDED_BY(mu_);
  uint64_t next_token_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace zlayer::runtimes
