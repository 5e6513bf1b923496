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
#include "runtimes/oci/oci_container.h"

namespace zlayer::oci {

using core::ContainerId;
using core::ContainerState;
using Phase = core::ContainerState::Phase;

namespace {

constexpr absl::Duration kDefaultStopTimeout = absl::Seconds(10);
constexpr absl::Duration kKillTimeout = absl::Seconds(10);
constexpr absl::Duration kMonitorStartTimeout = absl::Seconds(60);

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
  if (spec.health) {
    if (auto s = ValidateHealth(*spec.health); !s.ok()) return s;
  }
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
  auto log = base::Logger("oci");
  auto found = Find(id);
  if (!found.ok()) return found.status();
  const std::shared_ptr<Container>& container = *found;
  absl::MutexLock op(&container->op_mu);
  bool restart = false;
  {
    absl::MutexLock lock(&mu_);
    if (container->removed)
      return core::NotFound(absl::StrCat("container ", container->name), "removed");
    restart = container->state.IsTerminal();
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
  }
  // A restart of an exited container starts from a clean state directory.
  if (restart) {
    (void)runtime_->Delete(container->name, true);
    ::unlink((container->StateDir() + "/exit.json").c_str());
    ::unlink((container->StateDir() + "/monitor.json").c_str());
  }
  if (auto s = PrepareRootfs(*container); !s.ok()) return s;
  // Released by an earlier stop: the namespace config.json names is made again.
  if (auto s = AttachNetwork(*container); !s.ok()) return s;
  {
    absl::MutexLock lock(&mu_);
    container->starting = true;
  }
  WatchStateDir(container);

  pid_t monitor_pid = 0, init_pid = 0;
  std::string error;
  absl::Status launched = LaunchMonitor(*container, &monitor_pid, &init_pid, &error);
  if (!launched.ok()) {
    {
      absl::MutexLock lock(&mu_);
      container->starting = false;
      // The monitor wrote exit.json with the runtime's complaint; if it could not even
      // do that, record the failure here.
      if (::access((container->StateDir() + "/exit.json").c_str(), F_OK) != 0) {
        container->MarkFailed(std::string(launched.message()), base::NowRealtime());
        Publish(*container);
      }
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
  if (auto s = WriteRecord(container->RecordPath(), record); !s.ok()) {
    log->warn("could not persist start container_id={} error={}", container->name, s.message());
  }
  log->info("container started container_id={} service={} deployment={} pid={} monitor_pid={}",
            container->name, id.service, record.deployment, init_pid, monitor_pid);
  StartHealth(container);
  // It may already have ended while we were publishing Running.
  CheckExit(container);
  return absl::OkStatus();
}

absl::Status OciBackend::LaunchMonitor(Container& container, pid_t* monitor_pid, pid_t* init_pid,
                                       std::string* error) {
  int sync[2];
  if (::pipe2(sync, O_CLOEXEC) != 0) return core::ErrnoError("pipe2");
  base::UniqueFd sync_r(sync[0]), sync_w(sync[1]);
  base::UniqueFd monitor_log(::open((container.StateDir() + "/monitor.log").c_str(),
                                    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  base::SpawnOptions spawn;
  spawn.argv = {monitor_path_,
                "--id",
                container.name,
                "--bundle",
                container.dir,
                "--runtime",
                runtime_->info().path,
                "--runtime-root",
                runtime_->root(),
                "--state-dir",
                container.StateDir(),
                "--cgroups-path",
                absl::StrCat(config_.cgroup_parent, "/", container.name),
                "--log-path",
                container.LogDir() + "/container.log",
                "--log-max-bytes",
                std::to_string(config_.log_max_bytes),
                "--log-max-files",
                std::to_string(config_.log_max_files),
                "--sync-fd",
                "3"};
  for (const auto& procs : monitor_cgroup_procs_) {
    spawn.argv.push_back("--cgroup-procs");
    spawn.argv.push_back(procs);
  }
  spawn.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  spawn.stdout_fd = monitor_log ? monitor_log.get() : -1;
  spawn.stderr_fd = monitor_log ? monitor_log.get() : -1;
  spawn.extra_fds = {{sync_w.get(), 3}};
  auto child = base::ChildProcess::Spawn(spawn);
  if (!child.ok()) return core::Annotate(child.status(), "start the container monitor");
  sync_w.Reset();
  // The first process only forks the real monitor and exits.
  auto forked = child->Wait(absl::Now() + absl::Seconds(10));
  if (!forked.ok() || forked->code != 0) {
    return core::Internal(
        absl::StrCat("container monitor for ", container.name, " failed to detach"));
  }
  std::string reply;
  const absl::Time deadline = absl::Now() + kMonitorStartTimeout;
  for (;;) {
    const int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (left <= 0) {
      return core::Internal(absl::StrCat("container ", container.name,
                                         ": the OCI runtime did not start it within ",
                                         absl::FormatDuration(kMonitorStartTimeout)));
    }
    struct pollfd pfd = {sync_r.get(), POLLIN, 0};
    const int n = ::poll(&pfd, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    char buf[4096];
    const ssize_t r = ::read(sync_r.get(), buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    reply.append(buf, static_cast<size_t>(r));
  }
  auto json = nlohmann::json::parse(reply, nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    auto mlog = base::ReadFile(container.StateDir() + "/monitor.log");
    return core::Internal(
        absl::StrCat("container ", container.name, ": the monitor ended without a report",
                     mlog.ok() && !mlog->empty() ? absl::StrCat(": ", *mlog) : ""));
  }
  if (!json.value("ok", false)) {
    *error = json.value("error", "unknown runtime error");
    return core::Internal(absl::StrCat("container ", container.name, ": ", runtime_->info().name,
                                       " could not start it: ", *error));
  }
  *monitor_pid = json.value("monitor_pid", 0);
  *init_pid = json.value("init_pid", 0);
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

absl::Status OciBackend::StopContainer(const ContainerId& id, std::optional<absl::Duration> timeout) {
  auto log = base::Logger("oci");
  auto found = Find(id);
  if (!found.ok()) return found.status();
  const std::shared_ptr<Container>& container = *found;
  absl::MutexLock op(&container->op_mu);
  std::string signal_name;
  absl::Duration grace;
  {
    absl::MutexLock lock(&mu_);
    // Stopping something that is not running is not an error, as with Docker.
    if (container->state.phase != Phase::kRunning && container->state.phase != Phase::kStopping) {
      return absl::OkStatus();
    }
    signal_name = !container->record.spec.stop_signal.empty() ? container->record.spec.stop_signal
                                                              : container->record.image_stop_signal;
    grace =
        timeout.value_or(container->record.spec.stop_grace_period.value_or(kDefaultStopTimeout));
    container->state = ContainerState::Stopping();
    Publish(*container);
  }
  auto signal = StopSignalNumber(signal_name);
  if (!signal.ok()) signal = SIGTERM;
  log->info("stopping container container_id={} signal={} timeout={}", container->name, *signal,
            absl::FormatDuration(grace));
  if (auto s = SignalInit(*container, *signal); !s.ok()) return s;
  bool exited = AwaitExit(*container, grace);
  if (!exited) {
    log->info("stop timeout reached, killing container_id={}", container->name);
    if (auto s = SignalInit(*container, SIGKILL); !s.ok()) return s;
    exited = AwaitExit(*container, kKillTimeout);
  }
  if (exited) {
    DetachNetwork(*container);
    return absl::OkStatus();
  }
  return core::Internal(absl::StrCat("container ", container->name,
                                     " did not exit after SIGKILL within ",
                                     absl::FormatDuration(kKillTimeout)));
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
  base::Logger("oci")->info("signalling container container_id={} signal={}", container->name,
                            *canonical);
  return SignalInit(*container, *core::SignalNumber(*canonical));
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
  int monitor_fd = -1;
  {
    absl::MutexLock lock(&mu_);
    monitor_fd = container->monitor_pidfd.get();
  }
  if (monitor_fd >= 0) {
    struct pollfd pfd = {monitor_fd, POLLIN, 0};
    ::poll(&pfd, 1, 10'000);
  }
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
