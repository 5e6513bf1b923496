// Base of every server-streaming handler: a queue of messages with one write in
// flight, finished exactly once, whatever mix of completion, cancellation and
// shutdown happens.
//
// Ownership: handlers are created with std::make_shared and keep themselves alive
// until OnDone. Work posted elsewhere holds a shared_ptr (or a weak_ptr, from
// callbacks that must never own the handler), so a handler is destroyed only after
// gRPC is done with it and no task still uses it. gRPC 1.51 never runs reactions
// inline from Start*/Finish, so calling them under mu_ is safe.
#pragma once

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_callback.h>

#include <deque>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "agentd/grpc/stream_registry.h"

namespace zlayer::agentd {

template <typename Message, typename Derived>
class StreamWriter : public grpc::ServerWriteReactor<Message>,
                     public AbortableStream,
                     public std::enable_shared_from_this<Derived> {
 public:
  explicit StreamWriter(StreamRegistry* registry) : registry_(registry) {}

  // Call right after make_shared: from here on gRPC may call reactions.
  static std::shared_ptr<Derived> Adopt(std::shared_ptr<Derived> self) {
    self->self_ = self;
    self->registry_->Add(self.get());
    return self;
  }

  void Abort(const grpc::Status& status) override { Close(status); }

 protected:
  // Queues a message. False once the stream is closing or finished.
  bool Send(Message message) {
    absl::MutexLock lock(&mu_);
    if (closing_ || finished_) return false;
    queue_.push_back(std::move(message));
    if (queue_.size() == 1) this->StartWrite(&queue_.front());
    return true;
  }

  // Finishes with `status` once everything queued has been written. The first
  // Close wins.
  void Close(const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    if (closing_ || finished_) return;
    closing_ = true;
    status_ = status;
    if (queue_.empty()) FinishLocked();
  }

  // Number of messages waiting to be written.
  size_t Backlog() {
    absl::MutexLock lock(&mu_);
    return queue_.size();
  }
  bool Closed() {
    absl::MutexLock lock(&mu_);
    return closing_ || finished_;
  }

  // Hooks for subclasses; called without mu_ held.
  // The client went away: release what the stream holds (kill an exec, ...).
  virtual void OnCancelled() {}
  // Every queued message has been written and the stream is still open.
  virtual void OnDrained() {}

 private:
  void OnWriteDone(bool ok) override {
    bool drained = false;
    {
      absl::MutexLock lock(&mu_);
      queue_.pop_front();  // its buffer may be released only now
      if (!ok) {
        // The call is broken (client gone); nothing more can be written.
        queue_.clear();
        closing_ = true;
        status_ = grpc::Status(grpc::StatusCode::UNAVAILABLE, "client went away");
      }
      if (!queue_.empty()) {
        this->StartWrite(&queue_.front());
      } else if (closing_) {
        FinishLocked();
      } else {
        drained = true;
      }
    }
    if (drained) OnDrained();
  }

  void OnCancel() override {
    {
      absl::MutexLock lock(&mu_);
      if (!closing_) {
        closing_ = true;
        status_ = grpc::Status::CANCELLED;
      }
      // A write in flight completes (with ok=false) and finishes the call then.
      if (queue_.empty()) FinishLocked();
    }
    OnCancelled();
  }

  void OnDone() override {
    registry_->Remove(this);
    // May destroy *this; nothing may touch members afterwards.
    std::shared_ptr<Derived> last = std::move(self_);
  }

  void FinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    this->Finish(status_);
  }

  StreamRegistry* registry_;
  std::shared_ptr<Derived> self_;
  absl::Mutex mu_;
  std::deque<Message> queue_ ABSL_GUARDED_BY(mu_);  // stable addresses for StartWrite
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

// Finishes a stream that failed before it started.
template <typename Message>
grpc::ServerWriteReactor<Message>* FailedStream(const grpc::Status& status) {
  class Failed final : public grpc::ServerWriteReactor<Message> {
   public:
    explicit Failed(const grpc::Status& s) { this->Finish(s); }
    void OnDone() override { delete this; }
  };
  return new Failed(status);
}

}  // namespace zlayer::agentd
