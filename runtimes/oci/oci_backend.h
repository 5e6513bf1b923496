// The "oci" backend: real containers through youki, crun or runc.
//
// Each container has a directory <data_dir>/containers/<name>/ holding its
// record.json, the bundle's config.json, the rootfs mount point, the overlay's
// upper and work dirs, its logs, and state/ where its monitor (zlayer-monitor)
// writes monitor.json and, when the container ends, exit.json. The monitor owns
// the container's stdio and exit; this class never reaps a container process. It
// learns of exits from inotify on state/ and of monitor deaths from pidfds, both on
// one event-loop thread. Restarting the agent re-reads the directories (Recover).
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "auth/container_auth.h"
#include "base/event_loop.h"
#include "base/scheduler.h"
#include "base/work_queue.h"
#include "cgroups/layout.h"
#include "cgroups/stats_reader.h"
#include "core/container_runtime.h"
#include "images/image_store.h"
#include "network/dns_files.h"
#include "network/network.h"
#include "runtimes/backend_config.h"
#include "runtimes/backend_registry.h"
#include "runtimes/oci/bundle.h"
#include "runtimes/oci/container_record.h"
#include "runtimes/oci/health.h"
#include "runtimes/oci/init_process.h"
#include "runtimes/oci/log_files.h"
#include "runtimes/oci/runtime_cli.h"
#include "runtimes/state_bus.h"

namespace zlayer::oci {

class OciBackend final : public core::ContainerRuntime {
 public:
  // Probes the OCI runtime and recovers every container found on disk. Root file
  // systems come from `images`, which the agent also serves as the image half of
  // the contract. FAILED_PRECONDITION when no runtime works here.
  static absl::StatusOr<std::unique_ptr<OciBackend>> Create(
      const runtimes::BackendConfig& config, std::shared_ptr<images::ImageStore> images);
  ~OciBackend() override;

  std::string BackendName() const override { return "oci"; }
  std::string RuntimeDescription() const override;
  std::optional<size_t> MonitorCount() override;

  // Lifecycle (oci_lifecycle.cc).
  absl::Status CreateContainer(const core::ContainerId& id, const core::ServiceSpec& spec,
                               const std::string& deployment) override;
  absl::Status StartContainer(const core::ContainerId& id) override;
  absl::Status StopContainer(const core::ContainerId& id,
                             std::optional<absl::Duration> timeout) override;
  absl::Status KillContainer(const core::ContainerId& id,
                             std::optional<std::string> signal) override;
  absl::Status RemoveContainer(const core::ContainerId& id, bool force) override;

  // Queries.
  absl::StatusOr<core::ContainerState> GetContainerState(const core::ContainerId& id) override;
  absl::StatusOr<std::vector<core::ContainerRecord>> ListContainers(
      const core::ContainerFilter& filter) override;
  absl::StatusOr<core::ContainerRecord> DescribeContainer(const core::ContainerId& id) override;
  absl::StatusOr<std::optional<uint32_t>> GetContainerPid(const core::ContainerId& id) override;
  // Networks (oci_network.cc).
  absl::StatusOr<std::optional<std::string>> GetContainerIp(const core::ContainerId& id) override;
  absl::StatusOr<std::optional<uint16_t>> GetContainerPortOverride(
      const core::ContainerId& id) override;
  absl::StatusOr<core::ContainerInspectDetails> InspectDetailed(
      const core::ContainerId& id) override;

  // Logs (oci_logs.cc).
  absl::StatusOr<std::vector<core::LogEntry>> ContainerLogs(const core::ContainerId& id,
                                                            uint32_t tail) override;
  absl::StatusOr<std::unique_ptr<core::LogCursor>> OpenLogs(const core::ContainerId& id,
                                                            const core::LogQuery& query) override;

  // Exec (oci_exec.cc).
  absl::StatusOr<core::ExecResult> Exec(const core::ExecRequest& request) override;
  absl::StatusOr<std::unique_ptr<core::Subscription>> ExecStream(
      const core::ExecRequest& request, core::ExecEventFn on_event) override;
  // The two above, with `report` saying whether the exec is journaled as events
  // (API execs are; health probes, which run every few seconds, are not).
  absl::StatusOr<core::ExecResult> RunExec(const core::ExecRequest& request, bool report);
  absl::StatusOr<std::unique_ptr<core::Subscription>> StartExec(const core::ExecRequest& request,
                                                                core::ExecEventFn on_event,
                                                                bool report);

  // Stats.
  absl::StatusOr<core::ContainerStats> GetContainerStats(const core::ContainerId& id) override;

  // Wait.
  absl::StatusOr<int> WaitContainer(const core::ContainerId& id) override;
  absl::StatusOr<core::WaitOutcome> WaitOutcomeOf(const core::ContainerId& id) override;
  absl::StatusOr<std::unique_ptr<core::Subscription>> Watch(const core::ContainerId& id,
                                                            core::WatchFn on_event) override;

 private:
  struct Container;
  friend class ExecSession;

  OciBackend(runtimes::BackendConfig config, std::shared_ptr<images::ImageStore> images);
  absl::Status Init();
  absl::Status PrepareMonitorCgroup();

  // oci_recovery.cc
  absl::Status Recover();
  void RecoverOne(const std::string& name);
  void CleanOrphans();

  // oci_network.cc
  absl::StatusOr<network::NetworkMode> ResolveNetwork(const core::ServiceSpec& spec);
  // Writes the container's hosts, resolv.conf and hostname and points the bundle at
  // its namespace.
  absl::Status PrepareNetwork(Container& container, BundleInputs* inputs);
  // Creates the namespace and attaches it (no-op when attached or not networked).
  absl::Status AttachNetwork(Container& container);
  // Releases the attachment and the namespace (no-op when there is none); the
  // container's processes must be gone. `removing`: the record goes too, so it is
  // not rewritten.
  void DetachNetwork(Container& container, bool removing = false);
  // Recovery: takes back the attachment of a container found on disk.
  void AdoptNetwork(Container& container);
  // Recovery: releases what no known container holds.
  void CollectNetworkLeftovers();
  std::string NetnsPath(const std::string& name) const;
  // oci_lifecycle.cc
  absl::Status PrepareRootfs(Container& container);
  // What one zlayer-monitor runs: the container's main process, or an init step's
  // short-lived container (oci_init_actions.cc).
  struct MonitorLaunch {
    std::string runtime_id;
    std::string bundle;  // holds config.json
    std::string state_dir;
    std::string cgroups_path;
    std::string log_path;
  };
  MonitorLaunch MainLaunch(const Container& container) const;
  // Starts a monitor and waits for its report: the pids once the process runs, or
  // the runtime's complaint in `error`.
  absl::Status LaunchMonitor(const MonitorLaunch& launch, pid_t* monitor_pid, pid_t* init_pid,
                             std::string* error);
  // oci_init_actions.cc: runs the spec's init steps in order (the container is
  // Initializing meanwhile). FAILED_PRECONDITION naming the step that failed.
  absl::Status RunInitActions(const std::shared_ptr<Container>& container);
  // Reads exit.json if present and moves the container to its final state.
  void CheckExit(const std::shared_ptr<Container>& container);
  void OnMonitorGone(const std::shared_ptr<Container>& container);
  absl::Status AdoptMonitor(const std::shared_ptr<Container>& container, const MonitorRecord& m);
  void WatchStateDir(const std::shared_ptr<Container>& container);
  void OnInotify();
  absl::Status SignalInit(Container& container, int signal);
  // Waits until the container is no longer running; false on timeout.
  bool AwaitExit(Container& container, absl::Duration timeout);
  void Publish(Container& container) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Journals a state of the container (no-op without an event sink).
  void JournalState(const Container& container, const core::ContainerState& state)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts the spec's health check for a running container (no-op without one).
  void StartHealth(const std::shared_ptr<Container>& container);
  // The part of a start shared by StartContainer and the restart policy: the caller
  // holds op_mu and has checked the phase.
  absl::Status StartLocked(const std::shared_ptr<Container>& container, bool by_policy);
  // Signals the stop signal, waits out `grace`, then SIGKILL; true once it exited.
  // `timeout` unset: the spec's stop_grace_period, else 10 s. False when it was not
  // running.
  absl::StatusOr<bool> StopRunning(Container& container, std::optional<absl::Duration> timeout);
  // Waits (at most 10 s) until the container's monitor has exited: after writing
  // exit.json it still deletes the runtime's state. The caller holds op_mu.
  void AwaitMonitorGone(Container& container);
  // Writes record.json from the in-memory record (a failure is logged).
  void PersistRecord(Container& container);

  // oci_restart.cc: the restart policy. OnRunEnded judges each ended run once (by
  // its finish time) and schedules the restart; RestartNow makes it.
  void OnRunEnded(const std::shared_ptr<Container>& container);
  void ScheduleRestart(const std::shared_ptr<Container>& container, absl::Time at);
  void CancelRestart(Container& container);
  void RestartNow(const std::shared_ptr<Container>& container);
  // A health check found the container unhealthy; stops it for its policy to
  // restart when the spec asks for that.
  // `run` is the started_at of the run found unhealthy: a later run is left alone.
  void OnUnhealthy(const std::shared_ptr<Container>& container, std::optional<absl::Time> run);
  // Recovery: a restart the agent had scheduled or begun before it went down.
  void RecoverRestart(const std::shared_ptr<Container>& container, bool monitor_alive);
  // Settles a failure the monitor could not record: writes exit.json as the monitor
  // would, so that every later reader (and a restarted agent) sees the same end.
  void RecordFailure(const std::shared_ptr<Container>& container, const std::string& why);

  absl::StatusOr<std::shared_ptr<Container>> Find(const core::ContainerId& id) const;
  core::ContainerRecord ToRecord(const Container& container) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string ContainerDir(const std::string& name) const;
  LogFileSet LogsOf(const Container& container) const;

  const runtimes::BackendConfig config_;
  const std::shared_ptr<images::ImageStore> images_;
  std::unique_ptr<RuntimeCli> runtime_;
  std::unique_ptr<base::EventLoop> loop_;
  std::optional<cgroups::HostLayout> layout_;
  std::string monitor_path_;
  // The init for containers that want one, probed at start (init_process.h).
  absl::StatusOr<InitBinary> init_binary_ = absl::NotFoundError("not probed");
  // Set when container_auth is configured: every new container gets a token.
  std::optional<auth::ContainerAuthContext> container_auth_;
  // cgroup.procs files a monitor writes itself into (one per hierarchy).
  std::vector<std::string> monitor_cgroup_procs_;
  base::UniqueFd inotify_;
  base::EventLoop::Handle inotify_handle_ = 0;
  std::unique_ptr<LogNotifier> log_notifier_;
  std::unique_ptr<HealthChecker> health_;
  std::unique_ptr<network::NetworkManager> network_;
  network::HostsTable hosts_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<core::ContainerId, std::shared_ptr<Container>> containers_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<int, std::shared_ptr<Container>> by_watch_ ABSL_GUARDED_BY(mu_);
  runtimes::StateBus bus_;
  // Restart timers fire on the scheduler and post the (blocking) start here.
  std::atomic<bool> shutting_down_{false};
  absl::Notification recovered_;
  std::unique_ptr<base::WorkQueue> restarts_;
  std::unique_ptr<base::Scheduler> restart_timers_;
};

// Registers "oci" in a backend registry: the image store and this backend over it.
void RegisterOciBackend(runtimes::BackendRegistry* registry);

}  // namespace zlayer::oci
