// Mutual exclusion per string key (a blob digest, a chain id): whoever holds a key
// produces that content; the others wait, then find it made.
#pragma once

#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"

namespace zlayer::images {

class KeyedLocks {
 public:
  class Guard {
   public:
    Guard(KeyedLocks* owner, std::string key) : owner_(owner), key_(std::move(key)) {}
    Guard(Guard&& o) noexcept : owner_(std::exchange(o.owner_, nullptr)), key_(std::move(o.key_)) {}
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    ~Guard() {
      if (owner_ != nullptr) owner_->Unlock(key_);
    }

   private:
    KeyedLocks* owner_;
    std::string key_;
  };

  // Blocks until no one else holds `key`.
  [[nodiscard]] Guard Lock(const std::string& key) {
    struct Free {
      const KeyedLocks* self;
      const std::string* key;
      bool Check() const ABSL_NO_THREAD_SAFETY_ANALYSIS { return !self->held_.contains(*key); }
    };
    const Free free{this, &key};
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&free, &Free::Check));
    held_.insert(key);
    return Guard(this, key);
  }

 private:
  void Unlock(const std::string& key) {
    absl::MutexLock lock(&mu_);
    held_.erase(key);
  }

  absl::Mutex mu_;
  absl::flat_hash_set<std::string> held_ ABSL_GUARDED_BY(mu_);
};

}  // namespace zlayer::images
