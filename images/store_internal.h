// Pieces of ImageStore shared by its .cc files; not part of the module's API.
#pragma once

#include <memory>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "images/image_store.h"

namespace zlayer::images {

// Content a pull or import is working with: garbage collection leaves it alone
// until the job records it (or gives up). Released on destruction.
class ImageStore::Leases {
 public:
  explicit Leases(ImageStore* store) : store_(store) {}
  ~Leases() { ReleaseAll(); }
  void ReleaseAll() {
    absl::MutexLock lock(&store_->mu_);
    for (const auto& k : keys_) {
      auto it = store_->leases_.find(k);
      if (it != store_->leases_.end() && --it->second == 0) store_->leases_.erase(it);
    }
    keys_.clear();
  }
  Leases(const Leases&) = delete;
  Leases& operator=(const Leases&) = delete;

  // Call with gc_mu_ held (shared) when the caller goes on to check that the
  // content exists: then it cannot be collected between the check and its use.
  void Add(const std::string& key) {
    absl::MutexLock lock(&store_->mu_);
    if (keys_.insert(key).second) ++store_->leases_[key];
  }

 private:
  ImageStore* store_;
  absl::flat_hash_set<std::string> keys_;
};

// One pull in progress for a store key; later pulls of the same key wait on it.
struct ImageStore::Flight {
  ProgressFanout fanout;
  absl::Notification done;
  absl::StatusOr<core::PullResult> result = absl::UnknownError("pull still running");
};

}  // namespace zlayer::images
