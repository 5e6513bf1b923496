// Events: replay from the journal after a sequence, then follow it live. The
// stream pulls from the journal one batch at a time, and only when everything
// sent so far has been written, so a client that reads slowly holds one batch of
// memory and the journal, not the agent, keeps what it has not read yet.
#include <atomic>

#include "absl/strings/str_cat.h"
#include "agentd/grpc/status_convert.h"
#include "agentd/grpc/stream_writer.h"
#include "agentd/grpc/streams.h"
#include "proto/convert/convert.h"

namespace zlayer::agentd {
namespace {

constexpr size_t kBatch = 128;

class EventsStream final : public StreamWriter<pb::Event, EventsStream> {
 public:
  EventsStream(const ServiceContext& ctx, core::EventFilter filter)
      : StreamWriter(ctx.streams), ctx_(ctx), filter_(std::move(filter)) {}
  ~EventsStream() override { StopListening(); }

  // `since`: replay after it; absent: from the journal's end.
  void Begin(std::optional<uint64_t> since) {
    if (since) {
      if (auto status = ctx_.events->CheckResume(*since); !status.ok()) {
        Close(ToGrpcStatus(status));
        return;
      }
    }
    {
      absl::MutexLock lock(&pump_mu_);
      cursor_ = since.value_or(ctx_.events->LastSequence());
    }
    // Listening before the first read: an append in between wakes a pump, and the
    // cursor makes the seam exact either way.
    std::weak_ptr<EventsStream> weak = weak_from_this();
    const uint64_t token = ctx_.events->AddListener([weak](uint64_t) {
      if (auto self = weak.lock()) self->Schedule();
    });
    {
      absl::MutexLock lock(&listen_mu_);
      listener_ = token;
    }
    Schedule();
  }

 private:
  void OnDrained() override { Schedule(); }
  void OnCancelled() override { StopListening(); }

  void StopListening() {
    absl::MutexLock lock(&listen_mu_);
    if (listener_) ctx_.events->RemoveListener(*listener_);
    listener_.reset();
  }

  // Coalesces wake-ups into one pump on the work queue (journal reads touch the
  // disk; listeners run on the appending thread).
  void Schedule() {
    if (scheduled_.exchange(true)) return;
    auto self = shared_from_this();
    if (!ctx_.queue->Post([self] { self->Pump(); })) {
      scheduled_ = false;
      Close(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                         "events: the agent's work queue is full; resume from your last sequence"));
    }
  }

  void Pump() {
    scheduled_ = false;
    absl::MutexLock lock(&pump_mu_);
    while (!Closed() && Backlog() == 0) {
      if (cursor_ + 1 < ctx_.events->OldestSequence()) {
        Close(
            grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                         absl::StrCat("events: this stream fell behind the journal (events after ",
                                      cursor_, " are no longer kept); relist, then resume")));
        return;
      }
      auto batch = ctx_.events->ReadAfter(cursor_, kBatch);
      if (!batch.ok()) {
        Close(ToGrpcStatus(batch.status()));
        return;
      }
      if (batch->empty()) return;  // up to date: the next append wakes us
      for (const core::Event& event : *batch) {
        cursor_ = event.sequence;
        if (filter_.Matches(event)) Send(proto::ToProto(event));
      }
    }
  }

  const ServiceContext& ctx_;
  const core::EventFilter filter_;
  std::atomic<bool> scheduled_{false};
  absl::Mutex pump_mu_;
  uint64_t cursor_ ABSL_GUARDED_BY(pump_mu_) = 0;
  absl::Mutex listen_mu_;
  std::optional<uint64_t> listener_ ABSL_GUARDED_BY(listen_mu_);
};

}  // namespace

grpc::ServerWriteReactor<pb::Event>* StartEventsStream(const ServiceContext& ctx,
                                                       const pb::EventsRequest& request) {
  core::EventFilter filter;
  for (const auto& id : request.containers()) {
    auto parsed = proto::FromProto(id);
    if (!parsed.ok()) return FailedStream<pb::Event>(ToGrpcStatus(parsed.status()));
    filter.containers.push_back(*parsed);
  }
  filter.service = request.service();
  filter.deployment = request.deployment();
  for (int kind : request.kinds()) {
    auto parsed = proto::EventKindFromProto(static_cast<pb::EventKind>(kind));
    if (!parsed) {
      return FailedStream<pb::Event>(
          grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                       absl::StrCat("events: unknown event kind ", kind, " in the filter")));
    }
    filter.kinds.push_back(*parsed);
  }
  if (ctx.events == nullptr) {
    return FailedStream<pb::Event>(
        grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "events: this agent keeps no journal"));
  }
  auto stream = EventsStream::Adopt(std::make_shared<EventsStream>(ctx, std::move(filter)));
  std::optional<uint64_t> since;
  if (request.has_since_sequence()) since = request.since_sequence();
  stream->Begin(since);
  return stream.get();
}

}  // namespace zlayer::agentd
