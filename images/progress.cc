#include "images/progress.h"

#include <algorithm>

#include "absl/time/clock.h"

namespace zlayer::images {

using core::PullProgress;

void ProgressFanout::AddListener(const ProgressFn* fn) {
  absl::MutexLock lock(&mu_);
  listeners_.push_back(fn);
  for (const auto& digest : order_) (*fn)(layers_[digest].last);
}

void ProgressFanout::RemoveListener(const ProgressFn* fn) {
  absl::MutexLock lock(&mu_);
  listeners_.erase(std::remove(listeners_.begin(), listeners_.end(), fn), listeners_.end());
}

void ProgressFanout::SendLocked(const PullProgress& p) {
  for (const ProgressFn* fn : listeners_) {
    if (*fn) (*fn)(p);
  }
}

void ProgressFanout::Status(std::string text) {
  PullProgress p;
  p.kind = PullProgress::Kind::kStatus;
  p.status = std::move(text);
  absl::MutexLock lock(&mu_);
  SendLocked(p);
}

void ProgressFanout::Layer(const std::string& digest, PullProgress::LayerState state,
                           uint64_t done, uint64_t total) {
  PullProgress p;
  p.kind = PullProgress::Kind::kLayer;
  p.digest = digest;
  p.layer_state = state;
  p.bytes_done = done;
  p.bytes_total = total;
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = layers_.try_emplace(digest);
  if (inserted) order_.push_back(digest);
  LayerSeen& seen = it->second;
  const bool changed = inserted || seen.last.layer_state != state;
  const bool finished = total > 0 && done == total && seen.last.bytes_done != done;
  seen.last = p;
  if (!changed && !finished && now - seen.sent_at < interval_) return;
  seen.sent_at = now;
  SendLocked(p);
}

}  // namespace zlayer::images
