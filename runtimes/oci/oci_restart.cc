// The restart policy on this backend: each ended run is judged once (supervise/
// decides), the restart is timed on a scheduler thread and made on a work queue
// under the container's op_mu, and everything that decides it is in record.json
// before it happens, so an agent killed at any point restarts a container once.
#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/time_util.h"
#include "runtimes/oci/oci_container.h"
#include "supervise/restart_policy.h"

namespace zlayer::oci {

using core::ContainerState;
using Mode = core::RestartPolicy::Mode;

void OciBackend::RecordFailure(const std::shared_ptr<Container>& container,
                               const std::string& why) {
  ExitRecord exit;
  exit.exit_code = 128;
  exit.runtime_error = true;
  exit.error = why;
  exit.finished_at = base::NowRealtime();
  {
    absl::MutexLock lock(&mu_);
    container->starting = false;
  }
  if (auto s = WriteExitRecord(container->StateDir() + "/exit.json", exit); !s.ok()) {
    // Disk trouble: settle it in memory at least, so that Wait and the policy see it.
    base::Logger("oci")->warn("cannot write exit record container_id={} error={}", container->name,
                              s.message());
    {
      absl::MutexLock lock(&mu_);
      if (container->removed) return;
      container->MarkFailed(why, exit.finished_at);
      Publish(*container);
    }
    OnRunEnded(container);
    return;
  }
  CheckExit(container);
}

void OciBackend::OnRunEnded(const std::shared_ptr<Container>& container) {
  auto log = base::Logger("oci");
  supervise::Decision decision;
  uint32_t count = 0;
  {
    absl::MutexLock lock(&mu_);
    if (container->removed || !container->outcome) return;
    const core::RestartPolicy& policy = container->record.spec.restart;
    if (policy.mode == Mode::kNo) return;
    supervise::RestartState& state = container->record.restart;
    const core::WaitOutcome& outcome = *container->outcome;
    if (outcome.finished_at && state.judged_exit_at == outcome.finished_at) return;  // judged
    const absl::Time now = base::NowRealtime();
    const absl::Time finished = outcome.finished_at.value_or(now);
    // A start that failed did not run: it must not count as a long healthy run.
    const bool ran = outcome.reason != core::WaitReason::kRuntimeError;
    const absl::Duration ran_for =
        ran && container->record.started_at
            ? std::max(absl::ZeroDuration(), finished - *container->record.started_at)
            : absl::ZeroDuration();
    decision = supervise::Judge(policy, outcome, ran_for, now, &state);
    count = state.restart_count;
  }
  PersistRecord(*container);
  if (decision.restart) {
    log->info(
        "restart scheduled container_id={} in={} restarts_so_far={}", container->name,
        absl::FormatDuration(absl::Trunc(decision.at - base::NowRealtime(), absl::Milliseconds(1))),
        count);
    ScheduleRestart(container, decision.at);
  } else {
    log->info("not restarting container_id={} reason=\"{}\"", container->name, decision.why_not);
  }
}

void OciBackend::ScheduleRestart(const std::shared_ptr<Container>& container, absl::Time at) {
  if (shutting_down_) return;
  CancelRestart(*container);
  std::weak_ptr<Container> weak = container;
  // The realtime target becomes a monotonic delay here; absl::Now is what the
  // scheduler counts in.
  const absl::Duration delay = std::max(absl::ZeroDuration(), at - base::NowRealtime());
  const auto timer = restart_timers_->RunAfter(delay, [this, weak] {
    auto locked = weak.lock();
    if (!locked || shutting_down_) return;
    if (!restarts_->Post([this, locked] { RestartNow(locked); })) {
      base::Logger("oci")->warn("restart queue refused container_id={}", locked->name);
    }
  });
  absl::MutexLock lock(&mu_);
  container->restart_timer = timer;
}

void OciBackend::CancelRestart(Container& container) {
  uint64_t timer = 0;
  {
    absl::MutexLock lock(&mu_);
    timer = std::exchange(container.restart_timer, 0);
  }
  if (timer != 0 && restart_timers_) restart_timers_->Cancel(timer);
}

void OciBackend::RestartNow(const std::shared_ptr<Container>& container) {
  // Restarts found due at recovery wait for it to finish: its orphan and network
  // sweeps must not meet a start in progress.
  recovered_.WaitForNotification();
  if (shutting_down_) return;
  absl::MutexLock op(&container->op_mu);
  {
    absl::MutexLock lock(&mu_);
    container->restart_timer = 0;
    const auto& state = container->record.restart;
    // Cancelled meanwhile: a stop, a kill, an API start or a removal came first.
    if (container->removed || !container->state.IsTerminal() || !state.next_restart_at ||
        state.stopped_by_api) {
      return;
    }
  }
  // A failed start is judged like any other end and rescheduled from there.
  (void)StartLocked(container, /*by_policy=*/true);
}

void OciBackend::OnUnhealthy(const std::shared_ptr<Container>& container,
                             std::optional<absl::Time> run) {
  if (shutting_down_) return;
  absl::MutexLock op(&container->op_mu);
  {
    absl::MutexLock lock(&mu_);
    const auto& spec = container->record.spec;
    if (container->removed || container->state.phase != ContainerState::Phase::kRunning ||
        container->record.started_at != run || !spec.health || !spec.health->restart_on_unhealthy) {
      return;
    }
    if (spec.restart.mode == Mode::kNo) {
      base::Logger("oci")->warn(
          "unhealthy container not restarted: its restart policy is no container_id={}",
          container->name);
      return;
    }
    container->record.restart.stopped_unhealthy = true;
  }
  PersistRecord(*container);
  base::Logger("oci")->info("stopping unhealthy container for its restart policy container_id={}",
                            container->name);
  auto stopped = StopRunning(*container, std::nullopt);
  if (!stopped.ok()) {
    base::Logger("oci")->error("could not stop unhealthy container container_id={} error={}",
                               container->name, stopped.status().message());
  }
}

void OciBackend::RecoverRestart(const std::shared_ptr<Container>& container, bool monitor_alive) {
  std::optional<absl::Time> pending;
  bool made = false;
  {
    absl::MutexLock lock(&mu_);
    auto& state = container->record.restart;
    if (container->record.spec.restart.mode == Mode::kNo || !state.next_restart_at ||
        state.stopped_by_api) {
      return;
    }
    const auto& outcome = container->outcome;
    const bool unjudged_exit = container->state.IsTerminal() && outcome && outcome->finished_at &&
                               state.judged_exit_at != outcome->finished_at;
    if (unjudged_exit && *outcome->finished_at >= *state.next_restart_at) {
      // The restart was made, and that run also ended while the agent was down.
      supervise::MarkRestarted(&state);
      made = true;
    } else if (container->state.IsTerminal()) {
      pending = state.next_restart_at;
    } else if (monitor_alive) {
      // The agent died between launching the restart and recording it: it was made.
      supervise::MarkRestarted(&state);
      made = true;
    }
  }
  if (made) {
    PersistRecord(*container);
    base::Logger("oci")->info("recovered a restart made before the agent stopped container_id={}",
                              container->name);
  }
  if (pending) ScheduleRestart(container, *pending);
}

}  // namespace zlayer::oci
