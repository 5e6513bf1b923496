// Set-up, queries, stats and waiting. Lifecycle is in oci_lifecycle.cc,
// logs in oci_logs.cc, exec in oci_exec.cc, recovery in oci_recovery.cc.
#include "runtimes/oci/oci_backend.h"

#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/fs_util.h"
#include "base/logging.h"
#include "base/process.h"
#include "base/time_util.h"
#include "core/errors.h"
#include "network/cni_manager.h"
#include "runtimes/backend_registry.h"
#include "runtimes/oci/oci_container.h"

namespace zlayer::oci {

using core::ContainerId;
using core::ContainerState;

namespace {

std::string DefaultMonitorPath() {
  // Installed layout: <prefix>/bin/zlayer-agentd and <prefix>/libexec/zlayer/
  // zlayer-monitor; build tree: agentd/zlayer-agentd and runtimes/oci/zlayer-monitor.
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return "zlayer-monitor";
  self[n] = 0;
  std::string dir(self);
  dir = dir.substr(0, dir.rfind('/'));
  const std::string parent = dir.substr(0, dir.rfind('/'));
  for (const std::string& candidate :
       {dir + "/zlayer-monitor", parent + "/libexec/zlayer/zlayer-monitor",
        parent + "/runtimes/oci/zlayer-monitor", std::string("/usr/libexec/zlayer/zlayer-monitor"),
        std::string("/usr/local/libexec/zlayer/zlayer-monitor")}) {
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "zlayer-monitor";
}

}  // namespace

OciBackend::OciBackend(runtimes::BackendConfig config, std::shared_ptr<images::ImageStore> images)
    : config_(std::move(config)), images_(std::move(images)) {}

OciBackend::~OciBackend() {
  // Stop the event loop and the health checks before anything their callbacks use
  // goes away. Containers keep running: their monitors do not depend on us.
  // Pending restarts are dropped: a restarted agent finds them in the records.
  // The queue is shut (Post fails) before the health checks stop, and freed after,
  // so a probe finishing meanwhile cannot reach a freed queue.
  shutting_down_ = true;
  if (!recovered_.HasBeenNotified()) recovered_.Notify();  // waiting restarts give up
  if (restarts_) restarts_->Shutdown();  // a running restart ends its init steps early
  health_.reset();
  restart_timers_.reset();
  restarts_.reset();
  log_notifier_.reset();
  loop_.reset();
}

absl::StatusOr<std::unique_ptr<OciBackend>> OciBackend::Create(
    const runtimes::BackendConfig& config, std::shared_ptr<images::ImageStore> images) {
  std::unique_ptr<OciBackend> backend(new OciBackend(config, std::move(images)));
  if (auto s = backend->Init(); !s.ok()) return s;
  return backend;
}

absl::Status OciBackend::Init() {
  auto log = base::Logger("oci");
  for (const auto& dir : {config_.data_dir, config_.data_dir + "/containers",
                          config_.data_dir + "/volumes", config_.run_dir}) {
    if (auto s = base::MakeDirs(dir, 0711); !s.ok()) return s;
  }
  // Each running container holds a dozen or two cached cgroup file descriptors
  // (stats) plus exec pipes: lift the soft limit to the hard one, as systemd's
  // LimitNOFILE intends.
  struct rlimit nofile;
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &nofile);
  }
  std::vector<ProbeResult> probes;
  auto runtime = RuntimeCli::Probe(config_.oci_runtime, config_.run_dir + "/runtime",
                                   config_.run_dir, &probes);
  for (const auto& p : probes) {
    log->info("runtime probe candidate={} usable={} detail=\"{}\"", p.candidate, p.usable,
              p.detail);
  }
  if (!runtime.ok()) return runtime.status();
  runtime_ = std::move(*runtime);
  log->info("using OCI runtime name={} version=\"{}\" path={} root={}", runtime_->info().name,
            runtime_->info().version, runtime_->info().path, runtime_->root());

  monitor_path_ = config_.monitor_path.empty() ? DefaultMonitorPath() : config_.monitor_path;
  if (::access(monitor_path_.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "monitor binary ", monitor_path_, " is missing; install zlayer-monitor or set --monitor"));
  }

  init_binary_ = ProbeInitBinary(config_.init_path);
  if (init_binary_.ok()) {
    log->info("init for PID 1: {} path={} default={}", init_binary_->name, init_binary_->path,
              config_.init_process ? "on" : "off");
  } else if (config_.init_process || !config_.init_path.empty()) {
    // Not fatal: containers that want the init fail at create, saying what to install.
    log->warn("init_process is configured but unusable: {}", init_binary_.status().message());
  } else {
    log->info("no init for PID 1 (spec.init_process fails at create): {}",
              init_binary_.status().message());
  }

  if (config_.container_auth.enabled) {
    auto auth = auth::LoadContainerAuth(config_.container_auth);
    if (!auth.ok()) return auth.status();
    container_auth_ = std::move(*auth);
    log->info("container auth: api_url={} socket={} token_ttl={}", container_auth_->api_url,
              container_auth_->socket_path.empty() ? "-" : container_auth_->socket_path,
              absl::FormatDuration(container_auth_->token_ttl));
  }

  auto layout = cgroups::HostLayout::Detect();
  if (layout.ok()) {
    layout_ = std::move(*layout);
  } else {
    log->warn("cgroup layout unknown, stats unavailable: {}", layout.status().message());
  }

  if (auto s = PrepareMonitorCgroup(); !s.ok()) {
    log->warn("monitors will stay in the agent's cgroup: {}", s.message());
  }

  auto loop = base::EventLoop::Create("oci-events");
  if (!loop.ok()) return loop.status();
  loop_ = std::move(*loop);
  inotify_.Reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify_) return core::ErrnoError("inotify_init1");
  auto handle = loop_->Add(inotify_.get(), EPOLLIN, [this](uint32_t) { OnInotify(); });
  if (!handle.ok()) return handle.status();
  inotify_handle_ = *handle;
  auto notifier = LogNotifier::Create(loop_.get());
  if (!notifier.ok()) return notifier.status();
  log_notifier_ = std::move(*notifier);
  health_ = std::make_unique<HealthChecker>();
  restarts_ = std::make_unique<base::WorkQueue>("oci-restart", 2);
  restart_timers_ = std::make_unique<base::Scheduler>("oci-restart-tm");
  network::NetworkConfig network_config = config_.network;
  network_config.run_dir = config_.run_dir;
  auto network = network::CniNetworkManager::Create(network_config);
  if (!network.ok()) return network.status();
  network_ = std::move(*network);

  return Recover();
}

absl::Status OciBackend::PrepareMonitorCgroup() {
  // Monitors live in <cgroup_parent>/monitors, beside their containers and outside
  // the agent's own cgroup: restarting or stopping the agent's unit (even with
  // KillMode=control-group) then reaches neither. A leaf of its own, because on v2 a
  // cgroup with controllers enabled for children may not hold processes.
  if (!layout_) return absl::FailedPreconditionError("cgroup layout unknown");
  auto self = base::ReadFile("/proc/self/cgroup");
  if (!self.ok()) return self.status();
  auto paths = cgroups::LocateByCgroupsPath(*layout_, config_.cgroup_parent + "/monitors",
                                            "monitors", *self);
  if (!paths.ok()) return paths.status();
  std::vector<std::string> dirs;
  for (const std::string* d : {&paths->unified, &paths->cpu, &paths->cpuacct, &paths->memory,
                               &paths->pids, &paths->blkio}) {
    if (d->empty() || std::find(dirs.begin(), dirs.end(), *d) != dirs.end()) continue;
    dirs.push_back(*d);
  }
  for (const auto& d : dirs) {
    if (auto s = base::MakeDirs(d, 0755); !s.ok()) return s;
    monitor_cgroup_procs_.push_back(d + "/cgroup.procs");
  }
  base::Logger("oci")->info("monitor cgroup ready parent={} hierarchies={}", config_.cgroup_parent,
                            dirs.size());
  return absl::OkStatus();
}

std::optional<size_t> OciBackend::MonitorCount() {
  absl::MutexLock lock(&mu_);
  size_t n = 0;
  for (const auto& [id, container] : containers_) n += container->monitor_pid != 0;
  return n;
}

std::string OciBackend::RuntimeDescription() const {
  return runtime_ ? runtime_->info().version : std::string();
}

std::string OciBackend::ContainerDir(const std::string& name) const {
  return absl::StrCat(config_.data_dir, "/containers/", name);
}

absl::StatusOr<std::shared_ptr<OciBackend::Container>> OciBackend::Find(
    const ContainerId& id) const {
  absl::MutexLock lock(&mu_);
  auto it = containers_.find(id);
  if (it == containers_.end()) {
    return core::NotFound(absl::StrCat("container ", id.ToString()), "no such container");
  }
  return it->second;
}

void OciBackend::Publish(Container& container) {
  bus_.Publish(container.id, container.state, container.outcome);
  // Created is journaled by CreateContainer once the record is on disk; before
  // that the container may still vanish (a failed create), and Initializing is
  // this backend's "created, not started".
  const auto phase = container.state.phase;
  if (phase != ContainerState::Phase::kPending && phase != ContainerState::Phase::kInitializing) {
    JournalState(container, container.state);
  }
}

void OciBackend::JournalState(const Container& container, const ContainerState& state) {
  if (config_.events == nullptr) return;
  config_.events->ContainerChanged(container.id, container.record.deployment, state,
                                   container.outcome, container.record.spec.image.name);
}

// Queries ------------------------------------------------------------------------

core::ContainerRecord OciBackend::ToRecord(const Container& container) const {
  core::ContainerRecord r;
  r.id = container.id;
  r.deployment = container.record.deployment;
  r.image = container.record.spec.image.name;
  r.image_digest = container.record.manifest_digest;
  r.state = container.state;
  r.created_at = container.record.created_at;
  r.started_at = container.record.started_at;
  if (container.state.phase == ContainerState::Phase::kRunning ||
      container.state.phase == ContainerState::Phase::kStopping) {
    r.pid = container.init_pid;
  }
  r.outcome = container.outcome;
  r.labels = container.record.spec.labels;
  r.spec = container.record.spec;
  r.annotations = {{"runtime", runtime_->info().version},
                   {"bundle", container.dir},
                   {"log_path", container.LogDir() + "/container.log"},
                   {"cgroups_path", absl::StrCat(config_.cgroup_parent, "/", container.name)},
                   {"image_reference", container.record.image_reference}};
  if (container.monitor_pid) r.annotations["monitor_pid"] = std::to_string(container.monitor_pid);
  r.supervision = supervise::Describe(container.record.spec.restart, container.record.restart);
  return r;
}

absl::StatusOr<ContainerState> OciBackend::GetContainerState(const ContainerId& id) {
  auto container = Find(id);
  if (!container.ok()) return container.status();
  absl::MutexLock lock(&mu_);
  return (*container)->state;
}

absl::StatusOr<std::vector<core::ContainerRecord>> OciBackend::ListContainers(
    const core::ContainerFilter& filter) {
  absl::MutexLock lock(&mu_);
  std::vector<core::ContainerRecord> out;
  out.reserve(containers_.size());
  for (const auto& [id, container] : containers_) {
    core::ContainerRecord r = ToRecord(*container);
    if (filter.Matches(r)) out.push_back(std::move(r));
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

absl::StatusOr<core::ContainerRecord> OciBackend::DescribeContainer(const ContainerId& id) {
  auto container = Find(id);
  if (!container.ok()) return container.status();
  absl::MutexLock lock(&mu_);
  return ToRecord(**container);
}

absl::StatusOr<std::optional<uint32_t>> OciBackend::GetContainerPid(const ContainerId& id) {
  auto r = DescribeContainer(id);
  if (!r.ok()) return r.status();
  return r->pid;
}

absl::StatusOr<core::ContainerInspectDetails> OciBackend::InspectDetailed(const ContainerId& id) {
  auto found = Find(id);
  if (!found.ok()) return found.status();
  const Container& container = **found;
  absl::MutexLock lock(&mu_);
  core::ContainerInspectDetails details;
  if (container.attachment) {
    details.ports = container.attachment->ports;
    details.ipv4 = container.attachment->ipv4;
    details.networks.push_back({container.attachment->network,
                                {container.id.service, container.name},
                                container.attachment->ipv4});
  } else {
    // Not published (network none or host, or not attached now): what the spec asks.
    for (const auto& endpoint : container.record.spec.endpoints) {
      core::PortMapping port;
      port.container_port = endpoint.target_port ? endpoint.target_port : endpoint.port;
      port.protocol = endpoint.protocol == core::EndpointProtocol::kUdp ? "udp" : "tcp";
      if (container.network_mode.kind == network::NetworkMode::Kind::kHost) {
        port.host_port = port.container_port;
      }
      details.ports.push_back(port);
    }
  }
  if (container.outcome) details.exit_code = container.outcome->exit_code;
  if (container.record.spec.health &&
      container.record.spec.health->check != core::HealthSpec::Check::kNone) {
    details.health = health_->Get(container.name).value_or(core::HealthDetail{});
  }
  return details;
}

// Stats --------------------------------------------------------------------------

absl::StatusOr<core::ContainerStats> OciBackend::GetContainerStats(const ContainerId& id) {
  auto found = Find(id);
  if (!found.ok()) return found.status();
  const auto& container = *found;
  std::shared_ptr<cgroups::StatsReader> reader;
  std::optional<uint32_t> pid;
  {
    absl::MutexLock lock(&mu_);
    if (container->state.phase != ContainerState::Phase::kRunning &&
        container->state.phase != ContainerState::Phase::kStopping) {
      return core::WrongState(absl::StrCat("container ", container->name),
                              container->state.ToString(), "stats exist only while it runs");
    }
    reader = container->stats;
    pid = container->init_pid;
  }
  if (!reader) {
    if (!layout_ || !pid) {
      return core::Unsupported("stats on a host whose cgroup layout is unknown");
    }
    auto paths = cgroups::LocateByPid(*layout_, static_cast<pid_t>(*pid));
    if (!paths.ok())
      return core::Annotate(paths.status(), absl::StrCat("container ", container->name));
    auto opened = cgroups::StatsReader::Open(*paths);
    if (!opened.ok())
      return core::Annotate(opened.status(), absl::StrCat("container ", container->name));
    reader = std::move(*opened);
    absl::MutexLock lock(&mu_);
    container->stats = reader;
  }
  auto read = reader->Read();
  if (!read.ok()) {
    return core::Annotate(read.status(), absl::StrCat("container ", container->name));
  }
  core::ContainerStats out;
  out.id = id;
  out.timestamp = base::NowRealtime();
  out.cgroup = std::move(*read);
  return out;
}

// Wait ---------------------------------------------------------------------------

bool OciBackend::AwaitExit(Container& container, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto done = [&container]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return container.state.IsTerminal() || container.removed;
  };
  if (timeout == absl::InfiniteDuration()) {
    mu_.Await(absl::Condition(&done));
    return true;
  }
  return mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
}

absl::StatusOr<core::WaitOutcome> OciBackend::WaitOutcomeOf(const ContainerId& id) {
  auto container = Find(id);
  if (!container.ok()) return container.status();
  AwaitExit(**container, absl::InfiniteDuration());
  absl::MutexLock lock(&mu_);
  if ((*container)->removed) {
    return core::NotFound(absl::StrCat("container ", id.ToString()), "container was removed");
  }
  return (*container)->outcome.value_or(core::WaitOutcome::Exited((*container)->state.exit_code));
}

absl::StatusOr<int> OciBackend::WaitContainer(const ContainerId& id) {
  auto outcome = WaitOutcomeOf(id);
  if (!outcome.ok()) return outcome.status();
  return outcome->exit_code;
}

absl::StatusOr<std::unique_ptr<core::Subscription>> OciBackend::Watch(const ContainerId& id,
                                                                      core::WatchFn on_event) {
  return bus_.Subscribe(id, std::move(on_event));
}

void OciBackend::StartHealth(const std::shared_ptr<Container>& container) {
  std::optional<core::HealthSpec> spec;
  pid_t pid = 0;
  std::string deployment;
  std::optional<absl::Time> run;  // the run these probes judge
  {
    absl::MutexLock lock(&mu_);
    spec = container->record.spec.health;
    deployment = container->record.deployment;
    run = container->record.started_at;
    if (container->init_pid) pid = static_cast<pid_t>(*container->init_pid);
  }
  if (!spec || spec->check == core::HealthSpec::Check::kNone || pid <= 0) return;
  const core::ContainerId id = container->id;
  const std::string monitor = monitor_path_;
  auto probe = [this, id, pid, monitor](const core::HealthSpec& h) -> HealthProbeResult {
    const absl::Duration timeout = h.timeout > absl::ZeroDuration() ? h.timeout : absl::Seconds(30);
    if (h.check == core::HealthSpec::Check::kCommand) {
      core::ExecRequest req;
      req.id = id;
      req.command = h.command;
      req.timeout = timeout;
      auto r = RunExec(req, /*report=*/false);
      if (!r.ok()) return {false, std::string(r.status().message())};
      return {r->exit_code == 0, r->stdout_data + r->stderr_data};
    }
    base::RunOptions run;
    run.argv = ProbeCommand(monitor, pid, h);
    run.timeout = timeout + absl::Seconds(2);
    auto r = base::RunCommand(run);
    if (!r.ok()) return {false, std::string(r.status().message())};
    return {r->ok(), r->out + r->err};
  };
  core::EventSink* events = config_.events;
  std::weak_ptr<Container> weak = container;
  auto on_change = [this, events, id, deployment, weak, run](const core::HealthDetail& detail) {
    if (events) {
      events->Record(
          core::HealthNodeEvent(id, deployment, detail.status, detail.last_output.value_or("")));
    }
    if (detail.status != "unhealthy") return;
    // On the health pool's thread: the stop blocks, so it runs on the restart queue.
    if (auto locked = weak.lock()) {
      if (!restarts_->Post([this, locked, run] { OnUnhealthy(locked, run); }) && !shutting_down_) {
        base::Logger("oci")->warn("restart queue full; unhealthy container not stopped "
                                  "container_id={}", locked->name);
      }
    }
  };
  health_->Start(container->name, *spec, std::move(probe), std::move(on_change));
}

void RegisterOciBackend(runtimes::BackendRegistry* registry) {
  registry->Register(
      "oci", [](const runtimes::BackendConfig& config) -> absl::StatusOr<runtimes::Backend> {
        // The store opens first: recovery asks it which images containers still use.
        if (auto s = base::MakeDirs(config.data_dir, 0711); !s.ok()) return s;
        images::StoreOptions store;
        store.root = config.data_dir + "/images";
        store.registries = config.registries;
        store.events = config.events;
        auto images = images::ImageStore::Open(store);
        if (!images.ok()) return core::Annotate(images.status(), "image store");
        std::shared_ptr<images::ImageStore> shared_images = std::move(*images);
        auto backend = OciBackend::Create(config, shared_images);
        if (!backend.ok()) return backend.status();
        return runtimes::Backend{std::move(*backend), std::move(shared_images)};
      });
}

}  // namespace zlayer::oci
