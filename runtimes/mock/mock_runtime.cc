#include "runtimes/mock/mock_runtime.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/time_util.h"
#include "core/errors.h"
#include "core/signals.h"

namespace zlayer::runtimes {
namespace {

absl::Status NoSuchContainer(const core::ContainerId& id) {
  return core::NotFound(absl::StrCat("container ", id.ToString()), "container not found");
}

core::LogEntry MockEntry(core::LogStream stream, std::string message, const std::string& source) {
  core::LogEntry e;
  e.timestamp = base::NowRealtime();
  e.stream = stream;
  e.message = std::move(message);
  e.source = core::LogSource{core::LogSource::Kind::kContainer, source};
  return e;
}

// Follows a mock container: the fixed entries, then nothing until the container
// leaves the running state, which ends the stream as a real container's exit would.
class MockFollowCursor final : public core::LogCursor {
 public:
  MockFollowCursor(std::vector<core::LogEntry> entries, StateBus& bus, const core::ContainerId& id)
      : entries_(std::move(entries)) {
    auto sub = bus.Subscribe(id, [this](const core::WatchEvent& ev) { OnState(ev); });
    if (sub.ok()) {
      subscription_ = std::move(*sub);
    } else {
      absl::MutexLock lock(&mu_);
      finished_ = true;
    }
  }
  ~MockFollowCursor() override { subscription_.reset(); }

  absl::StatusOr<std::vector<core::LogEntry>> Next(size_t max) override {
    absl::MutexLock lock(&mu_);
    const size_t n = std::min(max, entries_.size() - next_);
    std::vector<core::LogEntry> out(entries_.begin() + next_, entries_.begin() + next_ + n);
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
  void OnState(const core::WatchEvent& ev) {
    std::function<void()> ready;
    {
      absl::MutexLock lock(&mu_);
      const bool running = ev.state.phase == core::ContainerState::Phase::kRunning ||
                           ev.state.phase == core::ContainerState::Phase::kPending ||
                           ev.state.phase == core::ContainerState::Phase::kInitializing;
      if (running && ev.error.ok()) return;
      finished_ = true;
      ready = std::move(ready_);
      ready_ = nullptr;
    }
    if (ready) ready();
  }

  absl::Mutex mu_;
  std::vector<core::LogEntry> entries_ ABSL_GUARDED_BY(mu_);
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void()> ready_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<core::Subscription> subscription_;
};

}  // namespace

absl::StatusOr<core::PullResult> MockRuntime::PullImage(const core::PullRequest& request,
                                                        const core::PullProgressFn& progress) {
  if (request.image.empty()) return core::InvalidSpec("image reference must not be empty");
  // The reference mock takes 100 ms and always succeeds.
  core::PullProgress p;
  p.kind = core::PullProgress::Kind::kStatus;
  p.status = absl::StrCat("mock backend: pretending to pull ", request.image);
  if (progress) progress(p);
  absl::SleepFor(absl::Milliseconds(100));
  core::PullResult result;
  result.reference = request.image;
  if (events_) events_->Record({.kind = core::EventKind::kImagePulled, .image = request.image});
  return result;
}

absl::StatusOr<std::vector<core::ImageInfo>> MockRuntime::ListImages() {
  return std::vector<core::ImageInfo>();
}

absl::Status MockRuntime::RemoveImage(const std::string& image, bool) {
  if (events_) events_->Record({.kind = core::EventKind::kImageRemoved, .image = image});
  return absl::OkStatus();
}

absl::StatusOr<core::PruneResult> MockRuntime::PruneImages() { return core::PruneResult{}; }

absl::Status MockRuntime::TagImage(const std::string& source, const std::string& target) {
  if (events_) {
    events_->Record({.kind = core::EventKind::kImageTagged,
                     .image = target,
                     .message = absl::StrCat("from ", source)});
  }
  return absl::OkStatus();
}

absl::Status MockRuntime::CreateContainer(const core::ContainerId& id,
                                          const core::ServiceSpec& spec,
                                          const std::string& deployment) {
  if (auto s = core::ValidateContainerId(id); !s.ok()) return s;
  {
    absl::MutexLock lock(&mu_);
    if (containers_.contains(id)) {
      return core::AlreadyExists(absl::StrCat("container ", id.ToString()),
                                 "remove it first or pick another replica number");
    }
    core::ContainerRecord r;
    r.id = id;
    r.deployment = deployment;
    r.image = spec.image.name;
    r.state = core::ContainerState::Pending();
    r.created_at = base::NowRealtime();
    r.labels = spec.labels;
    r.spec = spec;
    r.spec.image.auth.reset();
    if (events_) events_->ContainerChanged(id, deployment, r.state, std::nullopt, r.image);
    containers_.emplace(id, std::move(r));
    // Published under mu_ so that watchers see transitions in the order they happen.
    bus_.Publish(id, core::ContainerState::Pending());
  }
  return absl::OkStatus();
}

absl::Status MockRuntime::StartContainer(const core::ContainerId& id) {
  {
    absl::MutexLock lock(&mu_);
    auto it = containers_.find(id);
    if (it == containers_.end()) return NoSuchContainer(id);
    it->second.state = core::ContainerState::Running();
    it->second.pid = static_cast<uint32_t>(::getpid());  // the reference mock's pid
    it->second.started_at = base::NowRealtime();
    it->second.outcome.reset();
    bus_.Publish(id, core::ContainerState::Running());
    if (events_) {
      events_->ContainerChanged(id, it->second.deployment, it->second.state, std::nullopt,
                                it->second.image);
    }
  }
  return absl::OkStatus();
}

absl::Status MockRuntime::StopContainer(const core::ContainerId& id,
                                        std::optional<absl::Duration>) {
  if (auto s = SetState(id, core::ContainerState::Stopping(), std::nullopt); !s.ok()) return s;
  core::WaitOutcome outcome = core::WaitOutcome::Exited(0);
  outcome.finished_at = base::NowRealtime();
  return SetState(id, core::ContainerState::Exited(0), outcome);
}

absl::Status MockRuntime::KillContainer(const core::ContainerId& id,
                                        std::optional<std::string> signal) {
  auto canonical = core::ValidateSignal(signal.value_or("SIGKILL"));
  if (!canonical.ok()) return canonical.status();
  // Like the reference mock, any allowed signal ends the container with 137.
  core::WaitOutcome outcome;
  outcome.exit_code = 137;
  outcome.reason = core::WaitReason::kSignal;
  outcome.signal = core::SignalNameFromExitCode(137);
  outcome.finished_at = base::NowRealtime();
  return SetState(id, core::ContainerState::Exited(137), outcome);
}

absl::Status MockRuntime::RemoveContainer(const core::ContainerId& id, bool) {
  {
    absl::MutexLock lock(&mu_);
    auto it = containers_.find(id);
    if (it == containers_.end()) return NoSuchContainer(id);
    const std::string deployment = it->second.deployment;
    containers_.erase(it);
    if (events_) events_->ContainerRemoved(id, deployment);
    bus_.Remove(id,
                core::NotFound(absl::StrCat("container ", id.ToString()), "container was removed"));
  }
  return absl::OkStatus();
}

absl::StatusOr<core::ContainerState> MockRuntime::GetContainerState(const core::ContainerId& id) {
  auto r = Find(id);
  if (!r.ok()) return r.status();
  return r->state;
}

absl::StatusOr<std::vector<core::ContainerRecord>> MockRuntime::ListContainers(
    const core::ContainerFilter& filter) {
  absl::MutexLock lock(&mu_);
  std::vector<core::ContainerRecord> out;
  for (const auto& [id, r] : containers_) {
    if (filter.Matches(r)) out.push_back(r);
  }
  std::sort(
      out.begin(), out.end(),
      [](const core::ContainerRecord& a, const core::ContainerRecord& b) { return a.id < b.id; });
  return out;
}

absl::StatusOr<core::ContainerRecord> MockRuntime::DescribeContainer(const core::ContainerId& id) {
  return Find(id);
}

absl::StatusOr<std::optional<uint32_t>> MockRuntime::GetContainerPid(const core::ContainerId& id) {
  auto r = Find(id);
  if (!r.ok()) return r.status();
  return r->pid;
}

absl::StatusOr<std::optional<std::string>> MockRuntime::GetContainerIp(
    const core::ContainerId& id) {
  auto r = Find(id);
  if (!r.ok()) return r.status();
  // Deterministic, as in the reference mock: 172.17.0.<replica + 2>, truncated to
  // one octet.
  const auto last_octet = static_cast<uint8_t>(id.replica + 2);
  return std::optional<std::string>(absl::StrCat("172.17.0.", last_octet));
}

absl::StatusOr<std::vector<core::LogEntry>> MockRuntime::ContainerLogs(const core::ContainerId& id,
                                                                       uint32_t tail) {
  if (auto r = Find(id); !r.ok()) return r.status();
  std::vector<core::LogEntry> entries = {
      MockEntry(core::LogStream::kStdout, "mock log line 1", "mock"),
      MockEntry(core::LogStream::kStderr, "mock error line", "mock"),
  };
  // The last `tail` entries; tail 0 gives none, as in the reference mock.
  const size_t skip = entries.size() - std::min<size_t>(tail, entries.size());
  entries.erase(entries.begin(), entries.begin() + static_cast<ptrdiff_t>(skip));
  return entries;
}

absl::StatusOr<std::vector<core::LogEntry>> MockRuntime::GetLogs(const core::ContainerId& id) {
  if (auto r = Find(id); !r.ok()) return r.status();
  const std::string name = id.ToString();
  return std::vector<core::LogEntry>{
      MockEntry(core::LogStream::kStdout, absl::StrCat("[", name, "] Container started"), name),
      MockEntry(core::LogStream::kStdout, absl::StrCat("[", name, "] Executing command..."), name),
      MockEntry(core::LogStream::kStdout,
                absl::StrCat("[", name, "] Command completed successfully"), name),
  };
}

absl::StatusOr<std::unique_ptr<core::LogCursor>> MockRuntime::OpenLogs(
    const core::ContainerId& id, const core::LogQuery& query) {
  auto entries = query.tail == 0 ? GetLogs(id) : ContainerLogs(id, query.tail);
  if (!entries.ok()) return entries.status();
  if (query.since) {
    std::erase_if(*entries, [&](const core::LogEntry& e) { return e.timestamp < *query.since; });
  }
  if (!query.follow) return core::MakeVectorLogCursor(std::move(*entries));
  return std::unique_ptr<core::LogCursor>(
      std::make_unique<MockFollowCursor>(std::move(*entries), bus_, id));
}

absl::StatusOr<core::ExecResult> MockRuntime::Exec(const core::ExecRequest& request) {
  auto r = Find(request.id);
  if (!r.ok()) return r.status();
  if (r->state.phase != core::ContainerState::Phase::kRunning) {
    return core::WrongState(absl::StrCat("container ", request.id.ToString()), r->state.ToString(),
                            "start it before exec");
  }
  if (request.command.empty()) return core::InvalidSpec("exec: command must not be empty");
  // The reference mock echoes the command line.
  core::ExecResult result;
  result.exit_code = 0;
  result.stdout_data = absl::StrJoin(request.command, " ");
  if (events_) {
    events_->Record(core::ExecNodeEvent(request.id, r->deployment, request.command, std::nullopt));
    events_->Record(core::ExecNodeEvent(request.id, r->deployment, request.command, 0));
  }
  return result;
}

absl::StatusOr<core::ContainerStats> MockRuntime::GetContainerStats(const core::ContainerId& id) {
  if (auto r = Find(id); !r.ok()) return r.status();
  core::ContainerStats stats;
  stats.id = id;
  stats.timestamp = base::NowRealtime();
  stats.cgroup.cpu_usage_usec = 1'000'000;
  stats.cgroup.memory_bytes = 50ull * 1024 * 1024;
  stats.cgroup.memory_limit = 256ull * 1024 * 1024;
  return stats;
}

absl::StatusOr<int> MockRuntime::WaitContainer(const core::ContainerId& id) {
  auto r = Find(id);
  if (!r.ok()) return r.status();
  switch (r->state.phase) {
    case core::ContainerState::Phase::kExited:
      return r->state.exit_code;
    case core::ContainerState::Phase::kFailed:
      return 1;
    default:
      // The reference mock pretends the container ran briefly and succeeded.
      absl::SleepFor(absl::Milliseconds(50));
      return 0;
  }
}

absl::StatusOr<std::unique_ptr<core::Subscription>> MockRuntime::Watch(const core::ContainerId& id,
                                                                       core::WatchFn on_event) {
  return bus_.Subscribe(id, std::move(on_event));
}

absl::Status MockRuntime::SetState(const core::ContainerId& id, core::ContainerState state,
                                   std::optional<core::WaitOutcome> outcome) {
  {
    absl::MutexLock lock(&mu_);
    auto it = containers_.find(id);
    if (it == containers_.end()) return NoSuchContainer(id);
    it->second.state = state;
    it->second.outcome = outcome;
    if (events_)
      events_->ContainerChanged(id, it->second.deployment, state, outcome, it->second.image);
    bus_.Publish(id, state, std::move(outcome));
  }
  return absl::OkStatus();
}

absl::StatusOr<core::ContainerRecord> MockRuntime::Find(const core::ContainerId& id) const {
  absl::MutexLock lock(&mu_);
  auto it = containers_.find(id);
  if (it == containers_.end()) return NoSuchContainer(id);
  return it->second;
}

}  // namespace zlayer::runtimes
