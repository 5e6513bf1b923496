// Re-adopting containers after the agent restarts. Containers never notice: their
// monitors kept running, kept writing logs, and wrote exit records for those that
// ended meanwhile. The agent only has to read what is on disk and check which
// monitors are still alive.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "base/fs_util.h"
#include "base/logging.h"
#include "base/time_util.h"
#include "core/errors.h"
#include "runtimes/oci/oci_container.h"

namespace zlayer::oci {

using core::ContainerState;

absl::Status OciBackend::Recover() {
  auto log = base::Logger("oci");
  const std::string root = config_.data_dir + "/containers";
  DIR* dir = ::opendir(root.c_str());
  if (dir == nullptr) return core::ErrnoError(absl::StrCat("open ", root));
  std::vector<std::string> names;
  while (struct dirent* ent = ::readdir(dir)) {
    const std::string name = ent->d_name;
    if (name == "." || name == "..") continue;
    names.push_back(name);
  }
  ::closedir(dir);
  for (const auto& name : names) RecoverOne(name);
  CleanOrphans();
  CollectNetworkLeftovers();
  recovered_.Notify();  // restarts found due may run now
  size_t running = 0, total = 0;
  {
    absl::MutexLock lock(&mu_);
    total = containers_.size();
    for (const auto& [id, container] : containers_) {
      if (container->state.phase == ContainerState::Phase::kRunning) ++running;
    }
  }
  log->info("recovered containers total={} running={}", total, running);
  return absl::OkStatus();
}

void OciBackend::RecoverOne(const std::string& name) {
  auto log = base::Logger("oci");
  const std::string dir = ContainerDir(name);
  auto record = ReadRecord(dir + "/record.json");
  if (!record.ok() || record->id.ToString() != name) {
    // A create that never finished (or a damaged record): nothing can use it.
    log->warn("discarding unfinished container dir={} reason={}", dir,
              record.ok() ? "name mismatch" : std::string(record.status().message()));
    (void)runtime_->Delete(name, true);
    (void)images::UnmountRootfs(dir + "/rootfs");
    if (auto s = base::RemoveTree(dir); !s.ok()) {
      log->error("cannot clean container dir={} error={}", dir, s.message());
    }
    (void)images_->RemoveUser(name);
    return;
  }
  auto container = std::make_shared<Container>();
  container->id = record->id;
  container->name = name;
  container->dir = dir;
  container->record = std::move(*record);
  if (auto text = base::ReadFile(container->ConfigPath()); text.ok()) {
    auto json = nlohmann::json::parse(*text, nullptr, false);
    if (!json.is_discarded()) container->config = std::move(json);
  }

  const std::string exit_path = container->StateDir() + "/exit.json";
  auto exit_record = ReadExitRecord(exit_path);
  if (exit_record.ok()) {
    exit_record->via_init = container->record.init_process;
    container->state = exit_record->ToState();
    container->outcome = exit_record->ToOutcome();
  } else if (!container->record.started_at) {
    container->state = ContainerState::Initializing();
  } else {
    container->state = ContainerState::Running();
  }
  AdoptNetwork(*container);
  {
    absl::MutexLock lock(&mu_);
    containers_[container->id] = container;
  }
  WatchStateDir(container);

  auto monitor = ReadMonitorRecord(container->StateDir() + "/monitor.json");
  const bool was_running = container->record.started_at.has_value() && !exit_record.ok();
  const bool init_cut_short =
      ::access((container->StateDir() + "/init-running").c_str(), F_OK) == 0;
  std::string failure;  // recorded below, once the container is known
  bool monitor_alive = false;
  if (monitor.ok()) {
    // Adopt a live monitor even if the container already ended: it may still be
    // deleting the runtime state, and Remove waits for it.
    monitor_alive = AdoptMonitor(container, *monitor).ok();
    if (!monitor_alive && was_running) {
      // The monitor died while we were away and left no exit record.
      failure = absl::StrCat("the container's monitor (pid ", monitor->monitor_pid,
                             ") died while the agent was down; its exit status is unknown");
      // An unsupervised container must not linger: nothing reads its output.
      (void)runtime_->Delete(name, true);
      log->error("container lost its monitor container_id={} service={}", name,
                 container->id.service);
    }
  } else if (was_running && container->record.restart.next_restart_at &&
             !container->record.restart.history.empty()) {
    // A restart the agent began (the old exit record gone) but did not live to
    // launch: the container is still the run that ended, and the restart is redone.
    const core::WaitOutcome& last = container->record.restart.history.back().outcome;
    container->outcome = last;
    container->state = last.reason == core::WaitReason::kRuntimeError
                           ? ContainerState::Failed(last.message)
                           : ContainerState::Exited(last.exit_code);
  } else if (init_cut_short && !exit_record.ok()) {
    // Before the next case: an API restart cut short in its init steps also looks
    // like a run whose monitor left no record.
    failure = "its init actions were cut short by an agent restart";
  } else if (was_running) {
    failure = "started, but its monitor left no record";
    (void)runtime_->Delete(name, true);
  }
  ::unlink((container->StateDir() + "/init-running").c_str());
  {
    absl::MutexLock lock(&mu_);
    // Journaled already unless the agent died between the record and the event.
    if (container->state.phase == ContainerState::Phase::kInitializing) {
      JournalState(*container, ContainerState::Pending());
    }
    Publish(*container);
  }
  if (container->state.phase == ContainerState::Phase::kRunning && failure.empty()) {
    StartHealth(container);
  }
  if (!failure.empty()) RecordFailure(container, failure);
  // A restart that was due, or made just before the agent went down; then an exit
  // that happened while it was down is judged (once: judging is keyed by its time).
  RecoverRestart(container, monitor_alive);
  OnRunEnded(container);
  // The container may have ended between our reads.
  CheckExit(container);
  log->info("recovered container container_id={} service={} state={}", name, container->id.service,
            container->state.ToString());
}

void OciBackend::CleanOrphans() {
  auto log = base::Logger("oci");
  auto ids = runtime_->List();
  if (!ids.ok()) {
    log->warn("cannot list runtime containers: {}", ids.status().message());
    return;
  }
  for (const auto& id : *ids) {
    auto parsed = core::ContainerId::Parse(id);
    bool known = false;
    if (parsed.ok()) {
      absl::MutexLock lock(&mu_);
      known = containers_.contains(*parsed);
    }
    if (!known) {
      log->warn("deleting runtime container the agent does not know id={}", id);
      (void)runtime_->Delete(id, true);
    }
  }
}

}  // namespace zlayer::oci
