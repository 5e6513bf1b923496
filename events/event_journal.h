// The node's event history: every event numbered (the numbers keep increasing
// across agent restarts), kept in SQLite next to the agent's other state, bounded
// by count and age, and readable from any point still kept. Readers pull: they
// read after their last sequence at their own pace and are woken when more is
// appended, so a slow reader costs the agent one batch of memory, never a queue.
//
// Exactly once: the journal keeps, per container, the last phase it recorded, in
// the same transaction as the event. A phase published again (recovery republishes
// every container's state) is not recorded twice, and one that was never recorded
// (an exit while the agent was down, or an agent killed between the state write
// and the event) is recorded when recovery publishes it.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/events.h"

namespace zlayer::events {

struct EventJournalConfig {
  std::string path;  // e.g. <data_dir>/events.db
  int max_events = 100000;
  absl::Duration max_age = absl::Hours(24 * 7);
};

class EventJournal final : public core::EventSink {
 public:
  static absl::StatusOr<std::unique_ptr<EventJournal>> Open(const EventJournalConfig& config);
  ~EventJournal() override;

  void ContainerChanged(const core::ContainerId& id, const std::string& deployment,
                        const core::ContainerState& state,
                        const std::optional<core::WaitOutcome>& outcome,
                        const std::string& image) override;
  void ContainerRemoved(const core::ContainerId& id, const std::string& deployment) override;
  void Record(core::Event event) override;

  // After recovery: every container the journal last saw alive but the backend no
  // longer has (removed, and the agent stopped before journaling it) gets its
  // removed event now, so no removal goes unreported. Returns how many.
  size_t ReconcileRemoved(const std::vector<core::ContainerId>& existing);

  // Events with a sequence above `after`, oldest first, at most `limit`.
  absl::StatusOr<std::vector<core::Event>> ReadAfter(uint64_t after, size_t limit) const;
  // OK when every event after `after` is still kept; OUT_OF_RANGE naming the
  // oldest kept (and what to do) when some were dropped or `after` is unknown.
  absl::Status CheckResume(uint64_t after) const;
  uint64_t LastSequence() const;
  uint64_t OldestSequence() const;  // LastSequence() + 1 when empty

  // `fn(last_sequence)` after every append, outside the journal's locks, on the
  // appending thread: it must not block. Not a barrier: `fn` may run once more
  // after RemoveListener returns, so it must hold only weak references.
  uint64_t AddListener(std::function<void(uint64_t)> fn);
  void RemoveListener(uint64_t token);

 private:
  EventJournal(sqlite3* db, EventJournalConfig config) : db_(db), config_(std::move(config)) {}
  absl::Status Init();
  // Appends in one transaction; with `container_phase` (of the batch's container),
  // also records it as that container's last phase, unless it already is (then
  // nothing is appended). -1: the container is gone, its row too.
  void Append(std::vector<core::Event> batch, std::optional<int> container_phase);
  void Notify(uint64_t last);
  void PruneLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  sqlite3* db_;
  const EventJournalConfig config_;
  uint64_t last_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t oldest_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t appends_since_prune_ ABSL_GUARDED_BY(mu_) = 0;

  absl::Mutex listeners_mu_;
  std::map<uint64_t, std::function<void(uint64_t)>> listeners_ ABSL_GUARDED_BY(listeners_mu_);
  uint64_t next_token_ ABSL_GUARDED_BY(listeners_mu_) = 1;
};

}  // namespace zlayer::events
