// Many open server streams: N Wait streams, then N log-follow streams, on one
// running container. With them open: the agent's threads, RSS and descriptors,
// and the latency of unary calls made meanwhile (p99 against no streams).
// containerd's counterpart of the Wait streams: N concurrent unary Tasks.Wait
// calls on one running task, with containerd's threads, RSS and the latency of
// Tasks.Get meanwhile (against no waiters). containerd has no log follow.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <functional>
#include <optional>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/cases/cases.h"
#include "bench/harness/containerd_client.h"
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

// `calls` sequential calls of `timed_call`, which makes one unary call and returns
// the milliseconds the call itself took. Each call has a deadline, so a wedged
// server fails the case instead of hanging it, and a failed call fails it too: a
// p99 over the successes alone would flatter the server. Latencies in microseconds.
absl::StatusOr<std::vector<double>> Latencies(
    const std::string& what, int calls, const std::function<absl::StatusOr<double>()>& timed_call) {
  std::vector<double> us;
  for (int i = 0; i < calls && !Interrupted(); ++i) {
    auto ms = timed_call();
    if (!ms.ok()) {
      return absl::Status(ms.status().code(), absl::StrCat(what, " call ", i + 1, " of ", calls,
                                                           " failed: ", ms.status().message()));
    }
    us.push_back(*ms * 1000);
  }
  return us;
}

// GetContainerState of `id`, the agent's unary call made while streams are open.
absl::StatusOr<std::vector<double>> UnaryLatencies(Stub& stub, const pb::ContainerId& id,
                                                   int calls) {
  pb::GetContainerStateRequest req;
  *req.mutable_id() = id;
  return Latencies("GetContainerState", calls, [&]() -> absl::StatusOr<double> {
    pb::GetContainerStateResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    const double t0 = NowMs();
    const grpc::Status status = stub.GetContainerState(&ctx, req, &resp);
    const double t1 = NowMs();
    if (!status.ok()) return absl::UnavailableError(status.error_message());
    return t1 - t0;
  });
}

// Tasks.Get of `cid`, containerd's counterpart; a task not running fails it too.
absl::StatusOr<std::vector<double>> CtrUnaryLatencies(ContainerdClient& client,
                                                      const std::string& cid, int calls) {
  cdpb::GetRequest req;
  req.set_container_id(cid);
  return Latencies("Tasks.Get", calls, [&]() -> absl::StatusOr<double> {
    cdpb::GetResponse resp;
    auto ctx = client.Context(absl::Seconds(10));
    const double t0 = NowMs();
    const grpc::Status status = client.stub().Get(ctx.get(), req, &resp);
    const double t1 = NowMs();
    if (!status.ok()) return absl::UnavailableError(status.error_message());
    if (!IsTask(resp.process(), cid) ||
        resp.process().status() != ::containerd::v1::types::RUNNING) {
      return absl::InternalError(absl::StrCat(cid, " is not running"));
    }
    return t1 - t0;
  });
}

// containerd's rows: "containerd no waiters: ..." once, then "containerd Wait xN:
// ..." per count. Each measurement has one running task of its own, the one
// waited on and asked about: a Tasks.Wait cancelled by its client may stay
// pending in the shim until the task exits, so no count inherits another's.
class CtrWaitRows {
 public:
  CtrWaitRows(BenchEnv& env, const CaseOptions& o, Report& report)
      : env_(env), o_(o), report_(report),
        unary_(env.containerd_socket(), env.ctr_namespace(), 1) {}

  absl::Status Baseline() {
    const std::string cid = "streams-c0";
    if (auto s = StartTask(cid); !s.ok()) return s;
    auto rm = absl::MakeCleanup([&] { RemoveTask(cid); });
    if (auto warm = CtrUnaryLatencies(unary_, cid, 50); !warm.ok()) return warm.status();
    auto base = ReadProcMem(env_.containerd_pid());
    if (!base.ok()) return base.status();
    auto quiet = CtrUnaryLatencies(unary_, cid, o_.unary_calls);
    if (!quiet.ok()) return quiet.status();
    Row& b = report_.AddDistribution("streams", "containerd no waiters: unary p50/p99", "us",
                                     *quiet);
    b.note = "Tasks.Get of a running task, over a connection of its own";
    report_.AddValue("streams", "containerd no waiters: containerd threads", "threads",
                     base->threads);
    report_.AddValue("streams", "containerd no waiters: containerd RSS", "MB", base->rss_mb);
    return absl::OkStatus();
  }

  absl::Status Waiters(int n) {
    const std::string name = absl::StrCat("containerd Wait x", n);
    const std::string cid = absl::StrCat("streams-c", n);
    if (auto s = StartTask(cid); !s.ok()) return s;
    auto rm = absl::MakeCleanup([&] { RemoveTask(cid); });
    // Go's heap grows and shrinks on its own: the cost per waiter is taken
    // against the RSS right before, not against the no-waiters row.
    auto before = ReadProcMem(env_.containerd_pid());
    if (!before.ok()) return before.status();
    const double t0 = NowMs();
    auto waiters = TaskWaiters::Open(env_.containerd_socket(), env_.ctr_namespace(), cid, n,
                                     absl::Seconds(120));
    if (!waiters.ok()) return waiters.status();
    const double open_ms = NowMs() - t0;
    absl::SleepFor(absl::Milliseconds(500));
    auto mem = ReadProcMem(env_.containerd_pid());
    double shim_rss = 0;
    int shim_threads = 0;
    for (pid_t p : env_.ShimPids()) {
      if (auto m = ReadProcMem(p); m.ok()) {
        shim_rss += m->rss_mb;
        shim_threads += m->threads;
      }
    }
    auto busy = CtrUnaryLatencies(unary_, cid, o_.unary_calls);
    if (!busy.ok()) return busy.status();
    // Every call still held by containerd when the measurement ends.
    if (auto s = (*waiters)->CheckPending(); !s.ok()) return s;
    Row& u = report_.AddDistribution("streams", name + ": unary p50/p99", "us", *busy);
    u.compare.push_back({"containerd no waiters: unary p50/p99"});
    u.note = absl::StrFormat("Tasks.Get of the waited task; %d Tasks.Wait calls opened in %.0f ms",
                             n, open_ms);
    if (mem.ok()) {
      Row& t = report_.AddValue("streams", name + ": containerd threads", "threads", mem->threads);
      t.compare.push_back({"containerd no waiters: containerd threads"});
      Row& r = report_.AddValue("streams", name + ": containerd RSS", "MB", mem->rss_mb);
      r.compare.push_back({"containerd no waiters: containerd RSS"});
      r.note = absl::StrFormat(
          "%.1f KB per waiter over %.1f MB just before, %d fds; the task's shim: %.1f MB RSS, "
          "%d threads",
          (mem->rss_mb - before->rss_mb) * 1024 / n, before->rss_mb, mem->fds, shim_rss,
          shim_threads);
    }
    (*waiters)->Close();
    return absl::OkStatus();
  }

 private:
  absl::Status StartTask(const std::string& cid) {
    return env_.CtrOk({"run", "-d", env_.image(), cid, "/bin/sleep", "1000000"});
  }
  void RemoveTask(const std::string& cid) {
    (void)env_.Ctr({"task", "rm", "-f", cid});
    (void)env_.Ctr({"container", "rm", cid});
  }

  BenchEnv& env_;
  const CaseOptions& o_;
  Report& report_;
  ContainerdClient unary_;
};

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
  auto quiet = UnaryLatencies(*unary, id, o.unary_calls);
  if (!quiet.ok()) return quiet.status();
  report.AddDistribution("streams", "no streams: unary p50/p99", "us", *quiet);
  report.AddValue("streams", "no streams: agentd threads", "threads", base->threads);
  report.AddValue("streams", "no streams: agentd RSS", "MB", base->rss_mb);

  // containerd's rows follow the agent's for each count of Wait streams; a
  // failure there ends containerd's part only, and fails the case at the end.
  std::optional<CtrWaitRows> ctr;
  absl::Status ctr_status;
  if (env.has_containerd()) {
    ctr.emplace(env, o, report);
    if (auto s = ctr->Baseline(); !s.ok()) {
      ctr_status = absl::Status(s.code(), absl::StrCat("containerd no waiters: ", s.message()));
    }
  }

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
      auto busy = UnaryLatencies(*unary, id, o.unary_calls);
      if (!busy.ok()) {
        set.Close();
        return absl::Status(busy.status().code(), absl::StrCat(name, ": ", busy.status().message()));
      }
      Row& u = report.AddDistribution("streams", name + ": unary p50/p99", "us", *busy);
      u.compare.push_back({"no streams: unary p50/p99"});
      const std::string theirs = absl::StrCat("containerd Wait x", n);
      if (ctr && !logs) {
        Comparison p99;
        p99.reference = theirs + ": unary p50/p99";
        p99.p99 = true;
        u.compare.push_back(p99);
      }
      u.note = absl::StrFormat("opened in %.0f ms", open_ms);
      if (logs && ctr) {
        u.note += "; agent only: containerd's API has no log follow (clients read the task's "
                  "stdio FIFOs themselves)";
      }
      if (mem.ok()) {
        Row& t = report.AddValue("streams", name + ": agentd threads", "threads", mem->threads);
        t.compare.push_back({"no streams: agentd threads"});
        if (ctr && !logs) t.compare.push_back({theirs + ": containerd threads"});
        Row& r = report.AddValue("streams", name + ": agentd RSS", "MB", mem->rss_mb);
        r.compare.push_back({"no streams: agentd RSS"});
        if (ctr && !logs) r.compare.push_back({theirs + ": containerd RSS"});
        r.note = absl::StrFormat("%.1f KB per stream, %d fds",
                                 (mem->rss_mb - base->rss_mb) * 1024 / n, mem->fds);
      }
      set.Close();
      if (ctr && !logs && ctr_status.ok() && !Interrupted()) {
        if (auto s = ctr->Waiters(n); !s.ok()) {
          ctr_status = absl::Status(s.code(), absl::StrCat(theirs, ": ", s.message()));
        }
      }
    }
  }
  return ctr_status;
}

}  // namespace zlayer::bench
