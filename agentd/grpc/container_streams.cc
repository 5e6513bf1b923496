// Wait, ContainerLogs, ExecStream and StreamStats: streams about one container.
#include <optional>

#include "absl/strings/str_cat.h"
#include "agentd/grpc/status_convert.h"
#include "agentd/grpc/stream_writer.h"
#include "agentd/grpc/streams.h"
#include "core/errors.h"
#include "proto/convert/convert.h"

namespace zlayer::agentd {
namespace {

using core::ContainerId;

grpc::Status Unavailable(absl::string_view what) {
  return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                      absl::StrCat(what, ": the agent's work queue is full; retry shortly"));
}

// ---------------------------------------------------------------------------
// Wait: the current state, each transition, then the outcome.

class WaitStream final : public StreamWriter<pb::WaitEvent, WaitStream> {
 public:
  WaitStream(const ServiceContext& ctx, ContainerId id)
      : StreamWriter(ctx.streams), ctx_(ctx), id_(std::move(id)) {}
  ~WaitStream() override {
    // A barrier: once reset returns, OnEvent is not running.
    absl::MutexLock lock(&sub_mu_);
    subscription_.reset();
  }

  void Begin() {
    // Watch may block in backends without events, so it runs on the work queue.
    auto self = shared_from_this();
    if (!ctx_.queue->Post([self] { self->Subscribe(); })) Close(Unavailable("wait"));
  }

 private:
  void Subscribe() {
    if (Closed()) return;
    auto sub = ctx_.containers->Watch(id_, [this](const core::WatchEvent& ev) { OnEvent(ev); });
    if (!sub.ok()) {
      Close(ToGrpcStatus(sub.status()));
      return;
    }
    absl::MutexLock lock(&sub_mu_);
    subscription_ = std::move(*sub);
  }

  // Runs on a backend thread, possibly under the backend's lock: must not block.
  void OnEvent(const core::WatchEvent& ev) {
    if (!ev.error.ok()) {
      Close(ToGrpcStatus(ev.error));
      return;
    }
    bool changed;
    {
      absl::MutexLock lock(&state_mu_);
      changed = !last_state_ || *last_state_ != ev.state;
      last_state_ = ev.state;
    }
    if (changed) {
      pb::WaitEvent msg;
      *msg.mutable_state() = proto::ToProto(ev.state);
      Send(std::move(msg));
    }
    if (ev.outcome) {
      pb::WaitEvent msg;
      *msg.mutable_outcome() = proto::ToProto(*ev.outcome);
      Send(std::move(msg));
      Close(grpc::Status::OK);
    }
  }

  const ServiceContext& ctx_;
  const ContainerId id_;
  absl::Mutex state_mu_;
  std::optional<core::ContainerState> last_state_ ABSL_GUARDED_BY(state_mu_);
  absl::Mutex sub_mu_;
  std::unique_ptr<core::Subscription> subscription_ ABSL_GUARDED_BY(sub_mu_);
};

// ---------------------------------------------------------------------------
// ContainerLogs: pulls batches from a cursor only after the previous batch was
// written, so a slow client costs a cursor, never a buffered log file.

constexpr size_t kLogBatch = 256;

class LogStream final : public StreamWriter<pb::LogEntry, LogStream> {
 public:
  LogStream(const ServiceContext& ctx, ContainerId id, core::LogQuery query)
      : StreamWriter(ctx.streams), ctx_(ctx), id_(std::move(id)), query_(query) {}
  ~LogStream() override {
    // Destroying the cursor is a barrier for its ready callback.
    absl::MutexLock lock(&cursor_mu_);
    cursor_.reset();
  }

  void Begin() { PostPump(); }

 private:
  void OnDrained() override { PostPump(); }

  void PostPump() {
    // Only a weak reference travels: a callback from the cursor must never be the
    // one that destroys the stream (and with it the cursor it is running in).
    std::weak_ptr<LogStream> weak = weak_from_this();
    if (!ctx_.queue->Post([weak] {
          if (auto self = weak.lock()) self->Pump();
        })) {
      Close(Unavailable("logs"));
    }
  }

  // Runs on the work queue; reads one batch and sends it.
  void Pump() {
    if (Closed()) return;
    absl::MutexLock lock(&cursor_mu_);
    if (!cursor_) {
      auto cursor = ctx_.containers->OpenLogs(id_, query_);
      if (!cursor.ok()) {
        Close(ToGrpcStatus(cursor.status()));
        return;
      }
      cursor_ = std::move(*cursor);
    }
    auto batch = cursor_->Next(kLogBatch);
    if (!batch.ok()) {
      Close(ToGrpcStatus(batch.status()));
      return;
    }
    if (!batch->empty()) {
      for (auto& entry : *batch) Send(proto::ToProto(entry));
      return;  // OnDrained pumps again once these are written
    }
    if (cursor_->Done()) {
      Close(grpc::Status::OK);
      return;
    }
    std::weak_ptr<LogStream> weak = weak_from_this();
    cursor_->Arm([this, weak] {
      // Runs on a backend thread: hand over to the queue without owning the stream.
      if (!ctx_.queue->Post([weak] {
            if (auto self = weak.lock()) self->Pump();
          })) {
        Close(Unavailable("logs"));
      }
    });
  }

  const ServiceContext& ctx_;
  const ContainerId id_;
  const core::LogQuery query_;
  absl::Mutex cursor_mu_;
  std::unique_ptr<core::LogCursor> cursor_ ABSL_GUARDED_BY(cursor_mu_);
};

// ---------------------------------------------------------------------------
// ExecStream: chunks as produced, then exactly one exit event.

class ExecStream final : public StreamWriter<pb::ExecEvent, ExecStream> {
 public:
  ExecStream(const ServiceContext& ctx, core::ExecRequest request)
      : StreamWriter(ctx.streams), ctx_(ctx), request_(std::move(request)) {}
  ~ExecStream() override { ReleaseExec(); }

  void Begin() {
    auto self = shared_from_this();
    if (!ctx_.queue->Post([self] { self->Run(); })) Close(Unavailable("exec"));
  }

 private:
  void Run() {
    if (Closed()) return;
    auto sub = ctx_.containers->ExecStream(request_, [this](core::ExecEvent ev) { OnEvent(ev); });
    if (!sub.ok()) {
      Close(ToGrpcStatus(sub.status()));
      return;
    }
    std::unique_ptr<core::Subscription> doomed;
    {
      absl::MutexLock lock(&sub_mu_);
      // The client may have left while the exec was starting: then end it at once.
      if (cancelled_) {
        doomed = std::move(*sub);
      } else {
        subscription_ = std::move(*sub);
      }
    }
  }

  void OnEvent(core::ExecEvent& ev) {
    pb::ExecEvent msg;
    switch (ev.kind) {
      case core::ExecEvent::Kind::kStdout:
        msg.set_stdout(std::move(ev.data));
        break;
      case core::ExecEvent::Kind::kStderr:
        msg.set_stderr(std::move(ev.data));
        break;
      case core::ExecEvent::Kind::kExit:
        msg.set_exit_code(ev.exit_code);
        Send(std::move(msg));
        Close(ToGrpcStatus(ev.status));
        return;
    }
    Send(std::move(msg));
  }

  void OnCancelled() override {
    {
      absl::MutexLock lock(&sub_mu_);
      cancelled_ = true;
    }
    ReleaseExec();
  }

  void ReleaseExec() {
    std::unique_ptr<core::Subscription> doomed;
    {
      absl::MutexLock lock(&sub_mu_);
      doomed = std::move(subscription_);
    }
    // Outside the lock: destroying it waits for a running OnEvent.
    doomed.reset();
  }

  const ServiceContext& ctx_;
  const core::ExecRequest request_;
  absl::Mutex sub_mu_;
  std::unique_ptr<core::Subscription> subscription_ ABSL_GUARDED_BY(sub_mu_);
  bool cancelled_ ABSL_GUARDED_BY(sub_mu_) = false;
};

// ---------------------------------------------------------------------------
// StreamStats: one sample per interval until the container stops running.

class StatsStream final : public StreamWriter<pb::ContainerStats, StatsStream> {
 public:
  StatsStream(const ServiceContext& ctx, ContainerId id, absl::Duration interval)
      : StreamWriter(ctx.streams), ctx_(ctx), id_(std::move(id)), interval_(interval) {}
  ~StatsStream() override {
    absl::MutexLock lock(&mu_);
    if (timer_) ctx_.scheduler->Cancel(timer_);
  }

  void Begin() { PostSample(); }

 private:
  void PostSample() {
    std::weak_ptr<StatsStream> weak = weak_from_this();
    if (!ctx_.queue->Post([weak] {
          if (auto self = weak.lock()) self->Sample();
        })) {
      Close(Unavailable("stats"));
    }
  }

  void Sample() {
    if (Closed()) return;
    auto state = ctx_.containers->GetContainerState(id_);
    if (!state.ok()) {
      Close(ToGrpcStatus(state.status()));
      return;
    }
    if (state->phase != core::ContainerState::Phase::kRunning) {
      // Not running (any more): the stream is over. Never sampled at all is an error.
      Close(samples_ == 0 ? ToGrpcStatus(core::WrongState(
                                absl::StrCat("container ", id_.ToString()), state->ToString(),
                                "stats stream only while it runs"))
                          : grpc::Status::OK);
      return;
    }
    auto stats = ctx_.containers->GetContainerStats(id_);
    if (!stats.ok()) {
      // The container vanished between the two calls: it exited.
      Close(samples_ > 0 && absl::IsNotFound(stats.status()) ? grpc::Status::OK
                                                             : ToGrpcStatus(stats.status()));
      return;
    }
    ++samples_;
    Send(proto::ToProto(*stats));
    std::weak_ptr<StatsStream> weak = weak_from_this();
    absl::MutexLock lock(&mu_);
    timer_ = ctx_.scheduler->RunAfter(interval_, [this, weak] {
      // The scheduler thread only hands over; the sample runs on the queue.
      if (!ctx_.queue->Post([weak] {
            if (auto self = weak.lock()) self->Sample();
          })) {
        Close(Unavailable("stats"));
      }
    });
  }

  const ServiceContext& ctx_;
  const ContainerId id_;
  const absl::Duration interval_;
  int samples_ = 0;  // only touched by Sample, which never runs concurrently
  absl::Mutex mu_;
  base::Scheduler::TaskId timer_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

grpc::ServerWriteReactor<pb::WaitEvent>* StartWaitStream(const ServiceContext& ctx,
                                                         const pb::WaitRequest& request) {
  auto id = proto::FromProto(request.id());
  if (!id.ok()) return FailedStream<pb::WaitEvent>(ToGrpcStatus(id.status()));
  auto stream = WaitStream::Adopt(std::make_shared<WaitStream>(ctx, *id));
  stream->Begin();
  return stream.get();
}

grpc::ServerWriteReactor<pb::LogEntry>* StartLogStream(const ServiceContext& ctx,
                                                       const pb::ContainerLogsRequest& request) {
  auto id = proto::FromProto(request.id());
  if (!id.ok()) return FailedStream<pb::LogEntry>(ToGrpcStatus(id.status()));
  core::LogQuery query;
  query.tail = request.tail();
  query.follow = request.follow();
  if (request.has_since()) query.since = proto::FromProto(request.since());
  auto stream = LogStream::Adopt(std::make_shared<LogStream>(ctx, *id, query));
  stream->Begin();
  return stream.get();
}

grpc::ServerWriteReactor<pb::ExecEvent>* StartExecStream(const ServiceContext& ctx,
                                                         const pb::ExecRequest& request) {
  auto req = proto::FromProto(request);
  if (!req.ok()) return FailedStream<pb::ExecEvent>(ToGrpcStatus(req.status()));
  auto stream = ExecStream::Adopt(std::make_shared<ExecStream>(ctx, std::move(*req)));
  stream->Begin();
  return stream.get();
}

grpc::ServerWriteReactor<pb::ContainerStats>* StartStatsStream(
    const ServiceContext& ctx, const pb::StreamStatsRequest& request) {
  auto id = proto::FromProto(request.id());
  if (!id.ok()) return FailedStream<pb::ContainerStats>(ToGrpcStatus(id.status()));
  absl::Duration interval = absl::Seconds(1);
  if (request.has_interval()) {
    const absl::Duration asked = proto::FromProto(request.interval());
    if (asked >= absl::Milliseconds(100)) interval = asked;
  }
  auto stream = StatsStream::Adopt(std::make_shared<StatsStream>(ctx, *id, interval));
  stream->Begin();
  return stream.get();
}

}  // namespace zlayer::agentd
