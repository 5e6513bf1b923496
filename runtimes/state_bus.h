// Delivers container state transitions to watchers (Wait streams, log follows,
// stats streams) without a thread per watcher.
#pragma once

#include <cstdint>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/container_runtime.h"
#include "core/types.h"

namespace zlayer::runtimes {

class StateBus {
 public:
  StateBus() = default;
  StateBus(const StateBus&) = delete;
  StateBus& operator=(const StateBus&) = delete;

  // Records the container's latest state (and outcome, once it has exited) and
  // delivers it to every subscriber. Publishing the same state twice delivers once.
  void Publish(const core::ContainerId& id, const core::ContainerState& state,
               std::optional<core::WaitOutcome> outcome = std::nullopt);
  // Forgets a container; its subscribers receive a last event carrying `why`.
  void Remove(const core::ContainerId& id, const absl::Status& why);

  // Replays the latest state (and outcome) to `fn` before returning, then delivers
  // every later change. NOT_FOUND for a container never published.
  //
  // Callbacks run with the bus locked, which makes destroying a subscription a
  // barrier: once the destructor returns, `fn` is not running. So callbacks must not
  // block, and must not destroy their own subscription.
  absl::StatusOr<std::unique_ptr<core::Subscription>> Subscribe(const core::ContainerId& id,
                                                                core::WatchFn fn);

  // The latest state, as published; NOT_FOUND for unknown containers.
  absl::StatusOr<core::WatchEvent> Latest(const core::ContainerId& id) const;

 private:
  class Token;
  struct Entry {
    core::WatchEvent latest;
    absl::flat_hash_map<uint64_t, core::WatchFn> subscribers;
  };
  void Unsubscribe(const core::ContainerId& id, uint64_t token);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<core::ContainerId, Entry> entries_ ABSL_GUARDED_BY(mu_);
  uint64_t next_token_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace zlayer::runtimes
