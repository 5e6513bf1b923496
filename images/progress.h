// Pull progress, throttled for the wire: a layer's update goes out when its state
// changes and otherwise at most every 100 ms, since each becomes a gRPC message.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/image_service.h"

namespace zlayer::images {

using ProgressFn = core::PullProgressFn;

// Thread-safe. Listeners run under this object's lock, one call at a time and in
// order, so they must not block (the gRPC adapter only queues a message).
class ProgressFanout {
 public:
  explicit ProgressFanout(absl::Duration interval = absl::Milliseconds(100))
      : interval_(interval) {}

  // Adds a listener; it gets the current state of every layer first, so a pull
  // that joins one in flight sees the whole picture.
  void AddListener(const ProgressFn* fn);
  void RemoveListener(const ProgressFn* fn);

  void Status(std::string text);
  void Layer(const std::string& digest, core::PullProgress::LayerState state, uint64_t done,
             uint64_t total);

 private:
  struct LayerSeen {
    core::PullProgress last;
    absl::Time sent_at;
  };
  void SendLocked(const core::PullProgress& p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const absl::Duration interval_;
  absl::Mutex mu_;
  std::vector<const ProgressFn*> listeners_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> order_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, LayerSeen> layers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace zlayer::images
