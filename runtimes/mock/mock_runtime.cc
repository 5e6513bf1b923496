#include "runtimes/mock/mock_runtime.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/errors.h"
#include "base/time_util.h"
#include "runtimes/signals.h"

namespace zlayer::runtimes {
namespace {

absl::Status NoSuchContainer(const ContainerId& id) {
  return base::NotFound(absl::StrCat("container ", id.ToString()), "container not found");
}

LogEntry MockEntry(LogStream stream, std::string message, const std::string& source) {
  LogEntry e;
  e.timestamp = base::NowRealtime();
  e.stream = stream;
  e.message = std::move(message);
  e.source = LogSource{LogSource::Kind::kContainer, source};
  return e;
}

// Follows a mock container: the fixed entries, then nothing until the container
// leaves the running state, which ends the stream as a real container's exit would.
class MockFollowCursor final : public LogCursor {
 public:
  MockFollowCursor(std::vector<LogEntry> entries, StateBus& bus, const ContainerId& id)
      : entries_(std::move(entries)) {
    auto sub = bus.Subscribe(id, [this](const WatchEvent& ev) { OnState(ev); });
    if (sub.ok()) {
      subscription_ = std::move(*sub);
    } else {
      absl::MutexLock lock(&mu_);
      finished_ = true;
    }
  }
  ~MockFollowCursor() override { subscription_.reset(); }

  absl::StatusOr<std::vector<LogEntry>> Next(size_t max) override {
    absl::MutexLock lock(&mu_);
    const size_t n = std::min(max, entries_.size() - next_);
    std::vector<LogEntry> out(entries_.begin() + next_, entries_.begin() + next_ + n);
    next_ += n;
    return out;
  }
  bool Done() override {
    absl::MutexLock lock(&mu_);
    return finished_ && next_ == entries_.size();
  }
  void Arm(std::function<void()> ready) override {
    {
      absl::MutexLock lock(&mu_);
      if (!finished_ && next_ == entries_.size()) {
        ready_ = std::move(ready);
        return;
      }
    }
    ready();
  }

 private:
  void OnState(const WatchEvent& ev) {
    std::function<void()> ready;
    {
      absl::MutexLock lock(&mu_);
      const bool running = ev.state.phase == ContainerState::Phase::kRunning ||
                           ev.state.phase == ContainerState::Phase::kPending ||
                           ev.state.phase == ContainerState::Phase::kInitializing;
      if (running && ev.error.ok()) return;
      finished_ = true;
      ready = std::move(ready_);
      ready_ = nullptr;
    }
    if (ready) ready();
  }

  absl::Mutex mu_;
  std::vector<LogEntry> entries_ ABSL_GUARDED_BY(mu_);
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void()> ready_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Subscription> subscription_;
};

}  // namespace

absl::StatusOr<PullResult> MockRuntime::PullImage(const PullRequest& request,
                                                  const PullProgressFn& progress) {
  if (request.image.empty()) return base::InvalidSpec("image reference must not be empty");
  // The reference mock takes 100 ms and always succeeds.
  PullProgress p;
  p.kind = PullProgress::Kind::kStatus;
  p.status = absl::StrCat("mock backend: pretending to pull ", request.image);
  if (progress) progress(p);
  absl::SleepFor(absl::Milliseconds(100));
  PullResult result;
  result.reference = request.image;
  return result;
}

absl::StatusOr<std::vector<ImageInfo>> MockRuntime::ListImages() {
  return std::vector<ImageInfo>();
}

absl::Status MockRuntime::RemoveImage(const std::string&, bool) { return absl::OkStatus(); }

absl::StatusOr<PruneResult> MockRuntime::PruneImages() { return PruneResult{}; }

absl::Status MockRuntime::TagImage(const std::string&, const std::string&) {
  return absl::OkStatus();
}

absl::Status MockRuntime::CreateContainer(const ContainerId& id, const ServiceSpec& spec,
                                          const std::string& deployment) {
  if (auto s = ValidateContainerId(id); !s.ok()) return s;
  {
    absl::MutexLock lock(&mu_);
    if (containers_.contains(id)) {
      return base::AlreadyExists(absl::StrCat("container ", id.ToString()),
                                 "remove it first or pick another replica number");
    }
    ContainerRecord r;
    r.id = id;
    r.deployment = deployment;
    r.image = spec.image.name;
    r.state = ContainerState::Pending();
    r.created_at = base::NowRealtime();
    r.labels = spec.labels;
    r.spec = spec;
    r.spec.image.auth.reset();
    containers_.emplace(id, std::move(r));
    // Published under mu_ so that watchers see transitions in the order they happen.
    bus_.Publish(id, ContainerState::Pending());
  }
  return absl::OkStatus();
}

absl::Status MockRuntime::StartContainer(const ContainerId& id) {
  {
    absl::MutexLock lock(&mu_);
    auto it = containers_.find(id);
    if (it == containers_.end()) return NoSuchContainer(id);
    it->second.state = ContainerState::Running();
    it->second.pid = static_cast<uint32_t>(::getpid());  // the reference mock's pid
    it->second.started_at = base::NowRealtime();
    it->second.outcome.reset();
    bus_.Publish(id, ContainerState::Running());
  }
  return absl::OkStatus();
}

absl::Status MockRuntime::StopContainer(const ContainerId& id, std::optional<absl::Duration>) {
  if (auto s = SetState(id, ContainerState::Stopping(), std::nullopt); !s.ok()) return s;
  WaitOutcome outcome = WaitOutcome::Exited(0);
  outcome.finished_at = base::NowRealtime();
  return SetState(id, ContainerState::Exited(0), outcome);
}

absl::Status MockRuntime::KillContainer(const ContainerId& id, std::optional<std::string> signal) {
  auto canonical = ValidateSignal(signal.value_or("SIGKILL"));
  if (!canonical.ok()) return canonical.status();
  // Like the reference mock, any allowed signal ends the container with 137.
  WaitOutcome outcome;
  outcome.exit_code = 137;
  outcome.reason = WaitReason::kSignal;
  outcome.signal = SignalNameFromExitCode(137);
  outcome.finished_at = base::NowRealtime();
  return SetState(id, ContainerState::Exited(137), outcome);
}

absl::Status MockRuntime::RemoveContainer(const ContainerId& id, bool) {
  {
    absl::MutexLock lock(&mu_);
    if (containers_.erase(id) == 0) return NoSuchContainer(id);
    bus_.Remove(id, base::NotFound(absl::StrCat("container ", id.ToString()),
                                   "container was removed"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ContainerState> MockRuntime::GetContainerState(const ContainerId& id) {
  auto r = Find(id);
  if (!r.ok()) return r.status();
  return r->state;
}

absl::StatusOr<std::vector<ContainerRecord>> MockRuntime::ListContainers(
    const ContainerFilter& filter) {
  absl::MutexLock lock(&mu_);
  std::vector<ContainerRecord> out;
  for (const auto& [id, r] : containers_) {
    if (filter.Matches(r)) out.push_back(r);
  }
  std::sort(out.begin(), out.end(),
            [](const ContainerRecord& a, const ContainerRecord& b) { return a.id < b.id; });
  return out;
}

absl::StatusOr<ContainerRecord> MockRuntime::DescribeContainer(const ContainerId& id) {
  return Find(id);
}

absl::StatusOr<std::optional<uint32_t>> MockRuntime::GetContainerPid(const ContainerId& id) {
  auto r = Find(id);
  if (!r.ok()) return r.status();
  return r->pid;
}

absl::StatusOr<std::optional<std::string>> MockRuntime::GetContainerIp(const ContainerId& id) {
  auto r = Find(id);
  if (!r.ok()) return r.status();
  // Deterministic, as in the reference mock: 172.17.0.<replica + 2>, truncated to
  // one octet.
  const auto last_octet = static_cast<uint8_t>(id.replica + 2);
  return std::optional<std::string>(absl::StrCat("172.17.0.", last_octet));
}

absl::StatusOr<std::vector<LogEntry>> MockRuntime::ContainerLogs(const ContainerId& id,
                                                                 uint32_t tail) {
  if (auto r = Find(id); !r.ok()) return r.status();
  std::vector<LogEntry> entries = {
      MockEntry(LogStream::kStdout, "mock log line 1", "mock"),
      MockEntry(LogStream::kStderr, "mock error line", "mock"),
  };
  // The last `tail` entries; tail 0 gives none, as in the reference mock.
  const size_t skip = entries.size() - std::min<size_t>(tail, entries.size());
  entries.erase(entries.begin(), entries.begin() + static_cast<ptrdiff_t>(skip));
  return entries;
}

absl::StatusOr<std::vector<LogEntry>> MockRuntime::GetLogs(const ContainerId& id) {
  if (auto r = Find(id); !r.ok()) return r.status();
  const std::string name = id.ToString();
  return std::vector<LogEntry>{
      MockEntry(LogStream::kStdout, absl::StrCat("[", name, "] Container started"), name),
      MockEntry(LogStream::kStdout, absl::StrCat("[", name, "] Executing command..."), name),
      MockEntry(LogStream::kStdout, absl::StrCat("[", name, "] Command completed successfully"),
                name),
  };
}

absl::StatusOr<std::unique_ptr<LogCursor>> MockRuntime::OpenLogs(const ContainerId& id,
                                                                 const LogQuery& query) {
  auto entries = query.tail == 0 ? GetLogs(id) : ContainerLogs(id, query.tail);
  if (!entries.ok()) return entries.status();
  if (query.since) {
    std::erase_if(*entries, [&](const LogEntry& e) { return e.timestamp < *query.since; });
  }
  if (!query.follow) return MakeVectorLogCursor(std::move(*entries));
  return std::unique_ptr<LogCursor>(
      std::make_unique<MockFollowCursor>(std::move(*entries), bus_, id));
}

absl::StatusOr<ExecResult> MockRuntime::Exec(const ExecRequest& request) {
  auto r = Find(request.id);
  if (!r.ok()) return r.status();
  if (r->state.phase != ContainerState::Phase::kRunning) {
    return base::WrongState(absl::StrCat("container ", request.id.ToString()),
                            r->state.ToString(), "start it before exec");
  }
  if (request.command.empty()) return base::InvalidSpec("exec: command must not be empty");
  // The reference mock echoes the command line.
  ExecResult result;
  result.exit_code = 0;
  result.stdout_data = absl::StrJoin(request.command, " ");
  return result;
}

absl::StatusOr<ContainerStats> MockRuntime::GetContainerStats(const ContainerId& id) {
  if (auto r = Find(id); !r.ok()) return r.status();
  ContainerStats stats;
  stats.id = id;
  stats.timestamp = base::NowRealtime();
  stats.cgroup.cpu_usage_usec = 1'000'000;
  stats.cgroup.memory_bytes = 50ull * 1024 * 1024;
  stats.cgroup.memory_limit = 256ull * 1024 * 1024;
  return stats;
}

absl::StatusOr<int> MockRuntime::WaitContainer(const ContainerId& id) {
  auto r = Find(id);
  if (!r.ok()) return r.status();
  switch (r->state.phase) {
    case ContainerState::Phase::kExited: return r->state.exit_code;
    case ContainerState::Phase::kFailed: return 1;
    default:
      // The reference mock pretends the container ran briefly and succeeded.
      absl::SleepFor(absl::Milliseconds(50));
      return 0;
  }
}

absl::StatusOr<std::unique_ptr<Subscription>> MockRuntime::Watch(const ContainerId& id,
                                                                 WatchFn on_event) {
  return bus_.Subscribe(id, std::move(on_event));
}

absl::Status MockRuntime::SetState(const ContainerId& id, ContainerState state,
                                   std::optional<WaitOutcome> outcome) {
  {
    absl::MutexLock lock(&mu_);
    auto it = containers_.find(id);
    if (it == containers_.end()) return NoSuchContainer(id);
    it->second.state = state;
    it->second.outcome = outcome;
    bus_.Publish(id, state, std::move(outcome));
  }
  return absl::OkStatus();
}

absl::StatusOr<ContainerRecord> MockRuntime::Find(const ContainerId& id) const {
  absl::MutexLock lock(&mu_);
  auto it = containers_.find(id);
  if (it == containers_.end()) return NoSuchContainer(id);
  return it->second;
}

}  // namespace zlayer::runtimes
