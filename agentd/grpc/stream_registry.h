// Tracks open server streams so that shutdown can end each with a status instead
// of leaving clients to time out.
#pragma once

#include <grpcpp/support/status.h>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"

namespace zlayer::agentd {

class AbortableStream {
 public:
  virtual ~AbortableStream() = default;
  // Ends the stream with `status` after what is already queued. Must not block.
  virtual void Abort(const grpc::Status& status) = 0;
};

class StreamRegistry {
 public:
  void Add(AbortableStream* stream) {
    absl::MutexLock lock(&mu_);
    streams_.insert(stream);
  }
  void Remove(AbortableStream* stream) {
    absl::MutexLock lock(&mu_);
    streams_.erase(stream);
  }
  void AbortAll(const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    for (auto* s : streams_) s->Abort(status);
  }
  size_t size() const {
    absl::MutexLock lock(&mu_);
    return streams_.size();
  }

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_set<AbortableStream*> streams_ ABSL_GUARDED_BY(mu_);
};

}  // namespace zlayer::agentd
