#include "runtimes/state_bus.h"

#include "absl/strings/str_cat.h"
#include "core/errors.h"

namespace zlayer::runtimes {

class StateBus::Token final : public core::Subscription {
 public:
  Token(StateBus* bus, core::ContainerId id, uint64_t token)
      : bus_(bus), id_(std::move(id)), token_(token) {}
  ~Token() override { bus_->Unsubscribe(id_, token_); }

 private:
  StateBus* bus_;
  core::ContainerId id_;
  uint64_t token_;
};

void StateBus::Publish(const core::ContainerId& id, const core::ContainerState& state,
                       std::optional<core::WaitOutcome> outcome) {
  absl::MutexLock lock(&mu_);
  Entry& entry = entries_[id];
  const bool same = entry.latest.state == state &&
                    entry.latest.outcome.has_value() == outcome.has_value();
  entry.latest.state = state;
  entry.latest.outcome = std::move(outcome);
  entry.latest.error = absl::OkStatus();
  if (same) return;
  for (auto& [token, fn] : entry.subscribers) fn(entry.latest);
}

void StateBus::Remove(const core::ContainerId& id, const absl::Status& why) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  core::WatchEvent last = it->second.latest;
  last.outcome.reset();
  last.error = why;
  for (auto& [token, fn] : it->second.subscribers) fn(last);
  entries_.erase(it);
}

absl::StatusOr<std::unique_ptr<core::Subscription>> StateBus::Subscribe(const core::ContainerId& id,
                                                                        core::WatchFn fn) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    return core::NotFound(absl::StrCat("container ", id.ToString()), "no such container");
  }
  const uint64_t token = next_token_++;
  // Replay: the current state alone first, so a watcher always sees it as its own
  // event, then the outcome if the container has already finished.
  core::WatchEvent current = it->second.latest;
  if (current.outcome) {
    core::WatchEvent state_only = current;
    state_only.outcome.reset();
    fn(state_only);
    fn(current);
  } else {
    fn(current);
  }
  it->second.subscribers.emplace(token, std::move(fn));
  return std::unique_ptr<core::Subscription>(std::make_unique<Token>(this, id, token));
}

absl::StatusOr<core::WatchEvent> StateBus::Latest(const core::ContainerId& id) const {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    return core::NotFound(absl::StrCat("container ", id.ToString()), "no such container");
  }
  return it->second.latest;
}

void StateBus::Unsubscribe(const core::ContainerId& id, uint64_t token) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  if (it != entries_.end()) it->second.subscribers.erase(token);
}

}  // namespace zlayer::runtimes
