// Many open server streams: N Wait streams, then N log-follow streams, on one
// running container. With them open: the agent's threads, RSS and descriptors,
// and the latency of unary calls made meanwhile (p99 against no streams).
#include <grpcpp/grpcpp.h>

#include <algorithm>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/cases/cases.h"
#include "bench/harness/procinfo.h"

namespace zlayer::bench {
namespace {

constexpr int kStreamsPerChannel = 250;

enum Op : uintptr_t { kStart = 0, kRead = 1, kFinish = 2 };

void* Tag(size_t i, Op op) { return reinterpret_cast<void*>((i << 2) | op); }

// N streams of one kind, opened asynchronously on one completion queue.
class StreamSet {
 public:
  StreamSet(const std::string& socket, const pb::ContainerId& id, bool logs, int n)
      : n_(n), logs_(logs) {
    for (int c = 0; c * kStreamsPerChannel < n; ++c) {
      stubs_.push_back(pb::RuntimeService::NewStub(NewChannel(socket, 1000 + c)));
    }
    streams_.resize(static_cast<size_t>(n));
    for (size_t i = 0; i < streams_.size(); ++i) {
      Stream& s = streams_[i];
      s.ctx = std::make_unique<grpc::ClientContext>();
      Stub& stub = *stubs_[i / kStreamsPerChannel];
      if (logs) {
        pb::ContainerLogsRequest req;
        *req.mutable_id() = id;
        req.set_follow(true);
        s.logs = stub.PrepareAsyncContainerLogs(s.ctx.get(), req, &cq_);
        s.logs->StartCall(Tag(i, kStart));
      } else {
        pb::WaitRequest req;
        *req.mutable_id() = id;
        s.wait = stub.PrepareAsyncWait(s.ctx.get(), req, &cq_);
        s.wait->StartCall(Tag(i, kStart));
      }
    }
  }

  // Until every stream has delivered its first message (the state for Wait, the
  // container's first log line for logs): then the agent holds all of them.
  absl::Status AwaitOpen(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (first_messages_ < n_) {
      if (Interrupted()) return absl::CancelledError("interrupted");
      if (absl::Now() > deadline) {
        return absl::DeadlineExceededError(
            absl::StrCat(first_messages_, " of ", n_, " streams open at the deadline"));
      }
      // Wake at least once a second to notice an interrupt.
      if (!Next(std::min(deadline, absl::Now() + absl::Seconds(1)))) {
        return absl::InternalError("completion queue shut down");
      }
    }
    return absl::OkStatus();
  }

  // Cancels every stream and drains the queue.
  void Close() {
    for (auto& s : streams_) s.ctx->TryCancel();
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (finished_ < n_ && absl::Now() < deadline) {
      if (!Next(deadline)) break;
    }
    cq_.Shutdown();
    void* tag;
    bool ok;
    while (cq_.Next(&tag, &ok)) {
    }
  }

 private:
  struct Stream {
    std::unique_ptr<grpc::ClientContext> ctx;
    std::unique_ptr<grpc::ClientAsyncReader<pb::WaitEvent>> wait;
    std::unique_ptr<grpc::ClientAsyncReader<pb::LogEntry>> logs;
    pb::WaitEvent wait_ev;
    pb::LogEntry log_ev;
    grpc::Status status;
    bool got_first = false;
  };

  void Read(size_t i) {
    Stream& s = streams_[i];
    if (logs_) {
      s.logs->Read(&s.log_ev, Tag(i, kRead));
    } else {
      s.wait->Read(&s.wait_ev, Tag(i, kRead));
    }
  }

  void Finish(size_t i) {
    Stream& s = streams_[i];
    if (logs_) {
      s.logs->Finish(&s.status, Tag(i, kFinish));
    } else {
      s.wait->Finish(&s.status, Tag(i, kFinish));
    }
  }

  bool Next(absl::Time deadline) {
    void* tag;
    bool ok;
    const auto r = cq_.AsyncNext(&tag, &ok, absl::ToChronoTime(deadline));
    if (r == grpc::CompletionQueue::SHUTDOWN) return false;
    if (r == grpc::CompletionQueue::TIMEOUT) return true;
    const auto raw = reinterpret_cast<uintptr_t>(tag);
    const size_t i = raw >> 2;
    switch (static_cast<Op>(raw & 3)) {
      case kStart:
        if (ok) {
          Read(i);
        } else {
          Finish(i);
        }
        break;
      case kRead:
        if (ok) {
          if (!streams_[i].got_first) {
            streams_[i].got_first = true;
            ++first_messages_;
          }
          Read(i);
        } else {
          Finish(i);
        }
        break;
      case kFinish:
        ++finished_;
        break;
    }
    return true;
  }

  int n_;
  bool logs_;
  std::vector<std::unique_ptr<Stub>> stubs_;
  grpc::CompletionQueue cq_;
  std::vector<Stream> streams_;
  int first_messages_ = 0;
  int finished_ = 0;
};

// `calls` sequential GetContainerState calls; latencies in microseconds. Each call
// has a deadline, so a wedged agent fails the case instead of hanging it, and a
// failed call fails it too: a p99 over the successes alone would flatter the agent.
absl::StatusOr<std::vector<double>> UnaryLatencies(Stub& stub, const pb::ContainerId& id,
                                                   int calls) {
  std::vector<double> us;
  pb::GetContainerStateRequest req;
  *req.mutable_id() = id;
  for (int i = 0; i < calls && !Interrupted(); ++i) {
    pb::GetContainerStateResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    const double t0 = NowMs();
    const grpc::Status status = stub.GetContainerState(&ctx, req, &resp);
    const double t1 = NowMs();
    if (!status.ok()) {
      return absl::UnavailableError(absl::StrCat("GetContainerState call ", i + 1, " of ", calls,
                                                 " failed: ", status.error_message()));
    }
    us.push_back((t1 - t0) * 1000);
  }
  return us;
}

}  // namespace

absl::Status StreamsCase(BenchEnv& env, const CaseOptions& o, Report& report) {
  const auto id = Id("streams", 0);
  if (auto s = Create(env.stub(), id,
                      Spec(env.image(), {"/bin/sh", "-c", "echo ready; exec sleep 1000000"}));
      !s.ok()) {
    return s;
  }
  auto remove = absl::MakeCleanup([&] { (void)Remove(env.stub(), id, true); });
  if (auto s = Start(env.stub(), id); !s.ok()) return s;
  // The unary calls go over a connection of their own, as another client's would.
  auto unary = pb::RuntimeService::NewStub(NewChannel(env.agent_socket(), 1));
  if (auto warm = UnaryLatencies(*unary, id, 50); !warm.ok()) return warm.status();
  auto base = ReadProcMem(env.agent_pid());
  if (!base.ok()) return base.status();
  Row& b = report.Add({});
  b.case_name = "streams";
  b.variant = "no streams: unary p50/p99";
  b.unit = "us";
  auto quiet = UnaryLatencies(*unary, id, o.unary_calls);
  if (!quiet.ok()) return quiet.status();
  b.summary = Summarize(*quiet);
  report.AddValue("streams", "no streams: agentd threads", "threads", base->threads);
  report.AddValue("streams", "no streams: agentd RSS", "MB", base->rss_mb);

  std::vector<int> counts = o.streams;
  std::sort(counts.begin(), counts.end());
  for (bool logs : {false, true}) {
    for (int n : counts) {
      if (Interrupted()) break;
      const std::string name = absl::StrCat(logs ? "log-follow x" : "Wait x", n);
      const double t0 = NowMs();
      StreamSet set(env.agent_socket(), id, logs, n);
      if (auto s = set.AwaitOpen(absl::Seconds(120)); !s.ok()) {
        set.Close();
        return absl::Status(s.code(), absl::StrCat(name, ": ", s.message()));
      }
      const double open_ms = NowMs() - t0;
      absl::SleepFor(absl::Milliseconds(500));
      auto mem = ReadProcMem(env.agent_pid());
      Row& u = report.Add({});
      u.case_name = "streams";
      u.variant = name + ": unary p50/p99";
      u.unit = "us";
      auto busy = UnaryLatencies(*unary, id, o.unary_calls);
      if (!busy.ok()) {
        set.Close();
        return absl::Status(busy.status().code(), absl::StrCat(name, ": ", busy.status().message()));
      }
      u.summary = Summarize(*busy);
      u.compare.push_back({"no streams: unary p50/p99"});
      u.note = absl::StrFormat("opened in %.0f ms", open_ms);
      if (mem.ok()) {
        Row& t = report.AddValue("streams", name + ": agentd threads", "threads", mem->threads);
        t.compare.push_back({"no streams: agentd threads"});
        Row& r = report.AddValue("streams", name + ": agentd RSS", "MB", mem->rss_mb);
        r.compare.push_back({"no streams: agentd RSS"});
        r.note = absl::StrFormat("%.1f KB per stream, %d fds",
                                 (mem->rss_mb - base->rss_mb) * 1024 / n, mem->fds);
      }
      set.Close();
    }
  }
  return absl::OkStatus();
}

}  // namespace zlayer::bench
