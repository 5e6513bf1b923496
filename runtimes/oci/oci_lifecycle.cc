// Create, start, stop, kill and remove.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/fs_util.h"
#include "base/logging.h"
#include "base/process.h"
#include "base/time_util.h"
#include "core/errors.h"
#include "core/signals.h"
#include "images/reference.h"
#include "runtimes/oci/bundle.h"
#include "runtimes/oci/init_actions.h"
#include "runtimes/oci/oci_container.h"
#include "supervise/restart_policy.h"

namespace zlayer::oci {

using core::ContainerId;
using core::ContainerState;
using Phase = core::ContainerState::Phase;

namespace {

constexpr absl::Duration kDefaultStopTimeout = absl::Seconds(10);
constexpr absl::Duration kKillTimeout = absl::Seconds(10);

bool IsMountPoint(const std::string& path) {
  struct stat here, parent;
  if (::stat(path.c_str(), &here) != 0) return false;
  if (::stat((path + "/..").c_str(), &parent) != 0) return false;
  return here.st_dev != parent.st_dev;
}

absl::StatusOr<int> StopSignalNumber(const std::string& name) {
  if (name.empty()) return SIGTERM;
  std::string sig = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(name));
  if (!absl::StartsWith(sig, "SIG")) sig = "SIG" + sig;
  auto n = core::SignalNumber(sig);
  if (!n) return core::InvalidSpec(absl::StrCat("stop signal '", name, "' is not a signal"));
  return *n;
}

}  // namespace

// Create -------------------------------------------------------------------------

absl::Status OciBackend::CreateContainer(const ContainerId& id, const core::ServiceSpec& spec,
                                         const std::string& deployment) {
  auto log = base::Logger("oci");
  if (auto s = core::ValidateContainerId(id); !s.ok()) return s;
  if (auto s = ValidateSpec(spec); !s.ok()) return s;
  auto init = ResolveInit(spec, config_, init_binary_);  // resolved once, kept in the record
  if (!init.ok()) return init.status();
  if (spec.health) {
    if (auto s = ValidateHealth(*spec.health); !s.ok()) return s;
  }
  if (auto s = supervise::ValidatePolicy(spec.restart); !s.ok()) return s;
  if (auto s = ValidateInitActions(spec.init); !s.ok()) return s;
  auto network_mode = ResolveNetwork(spec);
  if (!network_mode.ok()) return network_mode.status();
  auto container = std::make_shared<Container>();
  container->id = id;
  container->network_mode = *network_mode;
  container->name = id.ToString();
  container->dir = ContainerDir(container->name);
  container->record.id = id;
  container->record.deployment = deployment;
  container->record.spec = spec;
  container->record.spec.image.auth.reset();  // never written to disk
  container->record.init_process = init->has_value();
  container->record.created_at = base::NowRealtime();
  container->state = ContainerState::Pending();
  {
    absl::MutexLock lock(&mu_);
    if (containers_.contains(id)) {
      return core::AlreadyExists(absl::StrCat("container ", container->name),
                                 "remove it first or pick another replica number");
    }
    containers_.emplace(id, container);
    Publish(*container);
  }
  absl::MutexLock op(&container->op_mu);

  auto fail = [&](absl::Status status) {
    log->info("create failed container_id={} error={}", container->name, status.message());
    DetachNetwork(*container, /*removing=*/true);
    (void)images::UnmountRootfs(container->Rootfs());
    (void)base::RemoveTree(container->dir);
    (void)images_->RemoveUser(container->name);
    absl::MutexLock lock(&mu_);
    container->removed = true;
    containers_.erase(id);
    bus_.Remove(id, core::NotFound(absl::StrCat("container ", container->name),
                                   absl::StrCat("create failed: ", status.message())));
    return status;
  };

  // The image: present, or pulled as the spec's policy allows.
  absl::StatusOr<images::ResolvedImage> image = absl::NotFoundError("");
  if (spec.image.pull_policy != core::PullPolicy::kAlways) {
    image = images_->Resolve(spec.image.name);
  }
  if (!image.ok()) {
    if (!absl::IsNotFound(image.status())) return fail(image.status());
    if (spec.image.pull_policy == core::PullPolicy::kNever) {
      return fail(core::WrongState(absl::StrCat("image ", spec.image.name), "not present",
                                   "its pull_policy is never: pull it first"));
    }
    core::PullRequest pull{spec.image.name, spec.image.pull_policy, spec.image.auth};
    auto pulled = images_->PullImage(pull, nullptr);
    if (!pulled.ok()) return fail(pulled.status());
    image = images_->Resolve(pulled->reference);
    if (!image.ok()) return fail(image.status());
  }
  {
    absl::MutexLock lock(&mu_);
    container->state = ContainerState::Initializing();
    container->record.image_reference = image->reference;
    container->record.manifest_digest = image->manifest_digest;
    container->record.image_stop_signal = image->config.stop_signal;
    Publish(*container);
  }
  for (const auto& d :
       {container->dir, container->StateDir(), container->LogDir(), container->Rootfs(),
        container->dir + "/fs/upper", container->dir + "/fs/work"}) {
    if (auto s = base::MakeDirs(d, 0700); !s.ok()) return fail(s);
  }
  ::chmod(container->Rootfs().c_str(), 0755);
  if (auto s = images_->AddUser(container->name, image->manifest_digest); !s.ok()) return fail(s);
  if (auto s = images::MountRootfs(image->layer_dirs, container->dir + "/fs/upper",
                                   container->dir + "/fs/work", container->Rootfs());
      !s.ok()) {
    return fail(s);
  }

  BundleInputs inputs;
  inputs.runtime_id = container->name;
  inputs.rootfs = container->Rootfs();
  inputs.cgroups_path = absl::StrCat(config_.cgroup_parent, "/", container->name);
  inputs.volumes_dir = config_.data_dir + "/volumes";
  if (container_auth_) {
    if (auto s = AddContainerAuth(*container_auth_, id, &inputs); !s.ok()) return fail(s);
  }
  if (auto s = PrepareNetwork(*container, &inputs); !s.ok()) return fail(s);
  if (auto s = AttachNetwork(*container); !s.ok()) return fail(s);
  auto config = BuildConfig(image->config, spec, inputs);
  if (!config.ok()) return fail(config.status());
  if (*init) ApplyInit(**init, &*config);
  if (auto s = base::WriteFileAtomic(container->ConfigPath(), config->dump(2), 0600); !s.ok()) {
    return fail(s);
  }
  ContainerRecordFile record;
  {
    absl::MutexLock lock(&mu_);
    container->config = std::move(*config);
    record = container->record;
  }
  if (auto s = WriteRecord(container->RecordPath(), record); !s.ok()) return fail(s);
  {
    absl::MutexLock lock(&mu_);
    JournalState(*container, ContainerState::Pending());
  }
  log->info("container created container_id={} service={} deployment={} image={} digest={}",
            container->name, id.service, deployment, image->reference, image->manifest_digest);
  return absl::OkStatus();
}

absl::Status OciBackend::PrepareRootfs(Container& container) {
  if (IsMountPoint(container.Rootfs())) return absl::OkStatus();
  // After a reboot the overlay is gone; the pinned manifest still has its layers.
  std::string pinned;
  {
    absl::MutexLock lock(&mu_);
    auto ref = images::ParseReference(container.record.image_reference);
    if (!ref.ok()) return core::Annotate(ref.status(), absl::StrCat("container ", container.name));
    pinned = absl::StrCat(ref->Name(), "@", container.record.manifest_digest);
  }
  auto image = images_->Resolve(pinned);
  if (!image.ok())
    return core::Annotate(image.status(), absl::StrCat("container ", container.name));
  return images::MountRootfs(image->layer_dirs, container.dir + "/fs/upper",
                             container.dir + "/fs/work", container.Rootfs());
}

// Start --------------------------------------------------------------------------

absl::Status OciBackend::StartContainer(const ContainerId& id) {
  auto found = Find(id);
  if (!found.ok()) return found.status();
  const std::shared_ptr<Container>& container = *found;
  absl::MutexLock op(&container->op_mu);
  {
    absl::MutexLock lock(&mu_);
    if (container->removed)
      return core::NotFound(absl::StrCat("container ", container->name), "removed");
    switch (container->state.phase) {
      case Phase::kRunning:
      case Phase::kStopping:
        return core::WrongState(absl::StrCat("container ", container->name),
                                container->state.ToString(), "it is already running");
      case Phase::kPending:
        return core::WrongState(absl::StrCat("container ", container->name), "pending",
                                "wait for create to finish");
      default:
        break;
    }
    // An API start begins the policy's count again and replaces a pending restart,
    // as `docker start` does.
    supervise::ResetForApiStart(&container->record.restart);
  }
  CancelRestart(*container);
  PersistRecord(*container);
  return StartLocked(container, /*by_policy=*/false);
}

absl::Status OciBackend::StartLocked(const std::shared_ptr<Container>& container, bool by_policy) {
  auto log = base::Logger("oci");
  bool restart = false;
  bool has_init_actions = false;
  std::string previous;
  {
    absl::MutexLock lock(&mu_);
    restart = container->state.IsTerminal();
    has_init_actions = !container->record.spec.init.empty();
    previous = container->state.ToString();
  }
  // A restart of an exited container starts from a clean state directory.
  if (restart) {
    // The previous run's monitor may still be deleting its runtime state; its pidfd
    // handle must be gone before a new monitor is adopted, or its end would be
    // taken for the new run's.
    AwaitMonitorGone(*container);
    base::EventLoop::Handle handle = 0;
    {
      absl::MutexLock lock(&mu_);
      handle = std::exchange(container->monitor_handle, 0);
    }
    if (handle) loop_->Remove(handle);  // waits for a callback in flight
    {
      absl::MutexLock lock(&mu_);
      container->monitor_pidfd.Reset();
      container->monitor_pid = 0;
    }
    (void)runtime_->Delete(container->name, true);
    // monitor.json first: without either file, recovery knows the restart was cut
    // short; a dead monitor.json alone would read as a monitor that died.
    ::unlink((container->StateDir() + "/monitor.json").c_str());
    ::unlink((container->StateDir() + "/exit.json").c_str());
    absl::MutexLock lock(&mu_);
    container->state = ContainerState::Initializing();
    container->outcome.reset();
    Publish(*container);
  }
  // From here on a failure is a run that ended: recorded as the monitor would, so
  // that Wait, the restart policy and a restarted agent all see it.
  auto fail = [&](absl::Status status) {
    // A restart that failed to start is still a restart: on-failure:N must give up.
    if (by_policy) {
      absl::MutexLock lock(&mu_);
      supervise::MarkRestarted(&container->record.restart);
    }
    RecordFailure(container, std::string(status.message()));
    log->warn("start failed container_id={} error={}", container->name, status.message());
    return status;
  };
  if (auto s = PrepareRootfs(*container); !s.ok()) return fail(s);
  // Released by an earlier stop: the namespace config.json names is made again.
  if (auto s = AttachNetwork(*container); !s.ok()) return fail(s);
  if (by_policy) {
    uint32_t count = 0;
    {
      absl::MutexLock lock(&mu_);
      count = container->record.restart.restart_count + 1;
    }
    (void)AppendLogMarker(container->LogDir() + "/container.log",
                          absl::StrCat("[zlayer] restarting (restart ", count,
                                       " by the restart policy; previous run: ", previous, ")"));
  }
  if (has_init_actions) {
    // The marker tells a restarted agent that init actions were cut short.
    const std::string marker = container->StateDir() + "/init-running";
    (void)base::WriteFileAtomic(marker, "", 0600);
    absl::Status init = RunInitActions(container);
    ::unlink(marker.c_str());
    if (!init.ok()) return fail(init);
  }
  {
    absl::MutexLock lock(&mu_);
    container->starting = true;
  }
  WatchStateDir(container);

  pid_t monitor_pid = 0, init_pid = 0;
  std::string error;
  absl::Status launched = LaunchMonitor(MainLaunch(*container), &monitor_pid, &init_pid, &error);
  if (!launched.ok()) {
    {
      absl::MutexLock lock(&mu_);
      container->starting = false;
    }
    // The monitor wrote exit.json with the runtime's complaint; if it could not even
    // do that, record the failure here.
    if (::access((container->StateDir() + "/exit.json").c_str(), F_OK) != 0) {
      return fail(launched);
    }
    CheckExit(container);
    log->warn("start failed container_id={} error={}", container->name, launched.message());
    return launched;
  }

  const absl::Time started = base::NowRealtime();
  ContainerRecordFile record;
  {
    absl::MutexLock lock(&mu_);
    container->monitor_pid = monitor_pid;
    container->init_pid = static_cast<uint32_t>(init_pid);
    container->init_start_ticks = 0;
    container->record.started_at = started;
    // Counted only now, in the same record write as the start: a restart the agent
    // did not live to make stays pending (next_restart_at) and is made once.
    if (by_policy) supervise::MarkRestarted(&container->record.restart);
    container->outcome.reset();
    container->stats.reset();
    container->state = ContainerState::Running();
    container->starting = false;
    Publish(*container);
    record = container->record;
  }
  // Watch the monitor through a pidfd checked against the start time it recorded:
  // if it has already finished (a container that ends at once), the pid might be
  // reused, and the exit record tells the story anyway.
  if (auto m = ReadMonitorRecord(container->StateDir() + "/monitor.json"); m.ok()) {
    (void)AdoptMonitor(container, *m);
  }
  PersistRecord(*container);
  log->info("container started container_id={} service={} deployment={} pid={} monitor_pid={}{}",
            container->name, container->id.service, record.deployment, init_pid, monitor_pid,
            by_policy ? absl::StrCat(" restart=", record.restart.restart_count) : "");
  StartHealth(container);
  // It may already have ended while we were publishing Running.
  CheckExit(container);
  return absl::OkStatus();
}

// Stop and kill ------------------------------------------------------------------

absl::Status OciBackend::SignalInit(Container& container, int signal) {
  pid_t pid = 0;
  unsigned long long ticks = 0;
  {
    absl::MutexLock lock(&mu_);
    if (container.init_pid) pid = static_cast<pid_t>(*container.init_pid);
    ticks = container.init_start_ticks;
  }
  if (pid > 0) {
    // A pidfd checked against the recorded start time cannot hit a recycled pid,
    // and saves running the runtime binary.
    base::UniqueFd pidfd(base::PidfdOpen(pid));
    if (pidfd && ticks != 0 && ProcessStartTicks(pid) == ticks) {
      if (base::PidfdSendSignal(pidfd.get(), signal) == 0 || errno == ESRCH) {
        return absl::OkStatus();
      }
    }
    if (!pidfd && errno == ESRCH) return absl::OkStatus();  // already gone
  }
  auto s = runtime_->Kill(container.name, signal);
  return absl::IsNotFound(s) ? absl::OkStatus() : s;
}

absl::Status OciBackend::StopContainer(const ContainerId& id,
                                       std::optional<absl::Duration> timeout) {
  auto found = Find(id);
  if (!found.ok()) return found.status();
  const std::shared_ptr<Container>& container = *found;
  // Said before anything is signalled, so that the exit it causes is never judged
  // as a failure to restart; a pending restart is cancelled too.
  {
    absl::MutexLock lock(&mu_);
    auto& restart = container->record.restart;
    restart.stopped_by_api = true;
    restart.next_restart_at.reset();
    if (container->record.spec.restart.mode != core::RestartPolicy::Mode::kNo) {
      restart.not_restarting = "stopped through the API";
    }
  }
  CancelRestart(*container);
  PersistRecord(*container);
  absl::MutexLock op(&container->op_mu);
  {
    // Again: an API start that held the lock first cleared the mark.
    absl::MutexLock lock(&mu_);
    container->record.restart.stopped_by_api = true;
  }
  auto exited = StopRunning(*container, timeout);
  if (!exited.ok()) return exited.status();
  if (*exited) DetachNetwork(*container);
  return absl::OkStatus();
}

absl::StatusOr<bool> OciBackend::StopRunning(Container& container,
                                             std::optional<absl::Duration> timeout) {
  auto log = base::Logger("oci");
  std::string signal_name;
  absl::Duration grace;
  {
    absl::MutexLock lock(&mu_);
    // Stopping something that is not running is not an error, as with Docker.
    if (container.state.phase != Phase::kRunning && container.state.phase != Phase::kStopping) {
      return false;
    }
    signal_name = !container.record.spec.stop_signal.empty() ? container.record.spec.stop_signal
                                                             : container.record.image_stop_signal;
    grace = timeout.value_or(container.record.spec.stop_grace_period.value_or(kDefaultStopTimeout));
    container.state = ContainerState::Stopping();
    Publish(container);
  }
  auto signal = StopSignalNumber(signal_name);
  if (!signal.ok()) signal = SIGTERM;
  log->info("stopping container container_id={} signal={} timeout={}", container.name, *signal,
            absl::FormatDuration(grace));
  if (auto s = SignalInit(container, *signal); !s.ok()) return s;
  bool exited = AwaitExit(container, grace);
  if (!exited) {
    log->info("stop timeout reached, killing container_id={}", container.name);
    if (auto s = SignalInit(container, SIGKILL); !s.ok()) return s;
    exited = AwaitExit(container, kKillTimeout);
  }
  if (exited) return true;
  return core::Internal(absl::StrCat("container ", container.name,
                                     " did not exit after SIGKILL within ",
                                     absl::FormatDuration(kKillTimeout)));
}

void OciBackend::AwaitMonitorGone(Container& container) {
  int monitor_fd = -1;
  {
    absl::MutexLock lock(&mu_);
    monitor_fd = container.monitor_pidfd.get();
  }
  if (monitor_fd < 0) return;
  struct pollfd pfd = {monitor_fd, POLLIN, 0};
  ::poll(&pfd, 1, 10'000);
}

void OciBackend::PersistRecord(Container& container) {
  // Snapshot and write under one lock, so that an older snapshot never lands last.
  absl::MutexLock write(&container.record_write_mu);
  ContainerRecordFile record;
  {
    absl::MutexLock lock(&mu_);
    if (container.removed) return;
    record = container.record;
  }
  if (auto s = WriteRecord(container.RecordPath(), record); !s.ok()) {
    base::Logger("oci")->warn("could not persist record container_id={} error={}", container.name,
                              s.message());
  }
}

absl::Status OciBackend::KillContainer(const ContainerId& id, std::optional<std::string> signal) {
  auto canonical = core::ValidateSignal(signal.value_or("SIGKILL"));
  if (!canonical.ok()) return canonical.status();
  auto found = Find(id);
  if (!found.ok()) return found.status();
  const std::shared_ptr<Container>& container = *found;
  {
    absl::MutexLock lock(&mu_);
    if (container->state.phase != Phase::kRunning && container->state.phase != Phase::kStopping) {
      return core::WrongState(absl::StrCat("container ", container->name),
                              container->state.ToString(),
                              "only a running container can be signalled");
    }
  }
  // A kill that ends the container is the operator's decision, which the restart
  // policy must not undo; other signals (SIGHUP to reload, SIGUSR1) are not.
  const int number = *core::SignalNumber(*canonical);
  bool ends_it = number == SIGKILL || number == SIGTERM || number == SIGINT || number == SIGQUIT;
  {
    absl::MutexLock lock(&mu_);
    std::string stop = !container->record.spec.stop_signal.empty()
                           ? container->record.spec.stop_signal
                           : container->record.image_stop_signal;
    if (auto stop_number = StopSignalNumber(stop); stop_number.ok() && *stop_number == number) {
      ends_it = true;
    }
    if (ends_it) {
      container->record.restart.stopped_by_api = true;
      if (container->record.spec.restart.mode != core::RestartPolicy::Mode::kNo) {
        container->record.restart.not_restarting = "killed through the API";
      }
    }
  }
  if (ends_it) PersistRecord(*container);
  base::Logger("oci")->info("signalling container container_id={} signal={}", container->name,
                            *canonical);
  return SignalInit(*container, number);
}

// Remove -------------------------------------------------------------------------

absl::Status OciBackend::RemoveContainer(const ContainerId& id, bool force) {
  auto log = base::Logger("oci");
  auto found = Find(id);
  if (!found.ok()) return found.status();
  const std::shared_ptr<Container>& container = *found;
  absl::MutexLock op(&container->op_mu);
  bool running;
  {
    absl::MutexLock lock(&mu_);
    if (container->removed)
      return core::NotFound(absl::StrCat("container ", container->name), "removed");
    running =
        container->state.phase == Phase::kRunning || container->state.phase == Phase::kStopping;
  }
  if (running) {
    if (!force) {
      return core::WrongState(absl::StrCat("container ", container->name), "running",
                              "stop it first, or remove with force");
    }
    (void)SignalInit(*container, SIGKILL);
    if (!AwaitExit(*container, kKillTimeout)) {
      return core::Internal(
          absl::StrCat("container ", container->name, " did not exit after SIGKILL; not removed"));
    }
  }
  // Let the monitor finish (it deletes the runtime state after writing exit.json).
  AwaitMonitorGone(*container);
  // The monitor deletes the runtime's container after the exit; a second `delete`
  // would cost one more runtime process (tens of ms) for nothing. The runtimes
  // (runc, crun, youki) keep one directory per container under their --root, so
  // the delete runs only if that is still there (a monitor that died first).
  struct stat runtime_state;
  if (::lstat(absl::StrCat(runtime_->root(), "/", container->name).c_str(), &runtime_state) == 0) {
    if (auto s = runtime_->Delete(container->name, true); !s.ok()) {
      log->warn("runtime delete failed container_id={} error={}", container->name, s.message());
    }
  }
  if (auto s = images::UnmountRootfs(container->Rootfs()); !s.ok()) {
    return core::Annotate(s, absl::StrCat("remove container ", container->name));
  }
  base::EventLoop::Handle handle = 0;
  {
    absl::MutexLock lock(&mu_);
    handle = std::exchange(container->monitor_handle, 0);
    if (container->watch_wd >= 0) {
      ::inotify_rm_watch(inotify_.get(), container->watch_wd);
      by_watch_.erase(container->watch_wd);
      container->watch_wd = -1;
    }
  }
  if (handle) loop_->Remove(handle);
  DetachNetwork(*container, /*removing=*/true);
  if (auto s = base::RemoveTree(container->dir); !s.ok()) {
    return core::Annotate(s, absl::StrCat("remove container ", container->name));
  }
  (void)images_->RemoveUser(container->name);
  health_->Stop(container->name);
  CancelRestart(*container);
  {
    absl::MutexLock lock(&mu_);
    container->removed = true;
    containers_.erase(id);
    bus_.Remove(
        id, core::NotFound(absl::StrCat("container ", container->name), "container was removed"));
    if (config_.events) config_.events->ContainerRemoved(id, container->record.deployment);
  }
  log->info("container removed container_id={} service={}", container->name, id.service);
  return absl::OkStatus();
}

}  // namespace zlayer::oci
