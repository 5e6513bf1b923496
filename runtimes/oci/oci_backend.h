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

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "base/event_loop.h"
#include "base/work_queue.h"
#include "cgroups/layout.h"
#include "cgroups/stats_reader.h"
#include "images/image_store.h"
#include "runtimes/container_auth.h"
#include "runtimes/backend_config.h"
#include "runtimes/backend_registry.h"
#include "runtimes/oci/container_record.h"
#include "runtimes/oci/health.h"
#include "runtimes/oci/log_files.h"
#include "runtimes/oci/runtime_cli.h"
#include "runtimes/runtime.h"
#include "runtimes/state_bus.h"

namespace zlayer::oci {

class OciBackend final : public runtimes::Runtime {
 public:
  // Probes the OCI runtime, opens the image store and recovers every container
  // found on disk. FAILED_PRECONDITION when no runtime works here.
  static absl::StatusOr<std::unique_ptr<OciBackend>> Create(const runtimes::BackendConfig& config);
  ~OciBackend() override;

  std::string BackendName() const override { return "oci"; }
  std::string RuntimeDescription() const override;

  // Images: the image store's.
  absl::StatusOr<runtimes::PullResult> PullImage(const runtimes::PullRequest& request,
                                                 const runtimes::PullProgressFn& progress) override;
  absl::StatusOr<runtimes::ImportResult> ImportImage(const std::string& reference,
                                                     int tar_fd) override;
  absl::StatusOr<std::vector<runtimes::ImageInfo>> ListImages() override;
  absl::Status RemoveImage(const std::string& image, bool force) override;
  absl::StatusOr<runtimes::PruneResult> PruneImages() override;
  absl::Status TagImage(const std::string& source, const std::string& target) override;

  // Lifecycle (oci_lifecycle.cc).
  absl::Status CreateContainer(const runtimes::ContainerId& id, const runtimes::ServiceSpec& spec,
                               const std::string& deployment) override;
  absl::Status StartContainer(const runtimes::ContainerId& id) override;
  absl::Status StopContainer(const runtimes::ContainerId& id,
                             std::optional<absl::Duration> timeout) override;
  absl::Status KillContainer(const runtimes::ContainerId& id,
                             std::optional<std::string> signal) override;
  absl::Status RemoveContainer(const runtimes::ContainerId& id, bool force) override;

  // Queries.
  absl::StatusOr<runtimes::ContainerState> GetContainerState(const runtimes::ContainerId& id) override;
  absl::StatusOr<std::vector<runtimes::ContainerRecord>> ListContainers(
      const runtimes::ContainerFilter& filter) override;
  absl::StatusOr<runtimes::ContainerRecord> DescribeContainer(const runtimes::ContainerId& id) override;
  absl::StatusOr<std::optional<uint32_t>> GetContainerPid(const runtimes::ContainerId& id) override;
  absl::StatusOr<std::optional<std::string>> GetContainerIp(const runtimes::ContainerId& id) override;
  absl::StatusOr<runtimes::ContainerInspectDetails> InspectDetailed(
      const runtimes::ContainerId& id) override;

  // Logs (oci_logs.cc).
  absl::StatusOr<std::vector<runtimes::LogEntry>> ContainerLogs(const runtimes::ContainerId& id,
                                                                uint32_t tail) override;
  absl::StatusOr<std::unique_ptr<runtimes::LogCursor>> OpenLogs(
      const runtimes::ContainerId& id, const runtimes::LogQuery& query) override;

  // Exec (oci_exec.cc).
  absl::StatusOr<runtimes::ExecResult> Exec(const runtimes::ExecRequest& request) override;
  absl::StatusOr<std::unique_ptr<runtimes::Subscription>> ExecStream(
      const runtimes::ExecRequest& request, runtimes::ExecEventFn on_event) override;

  // Stats.
  absl::StatusOr<runtimes::ContainerStats> GetContainerStats(const runtimes::ContainerId& id) override;

  // Wait.
  absl::StatusOr<int> WaitContainer(const runtimes::ContainerId& id) override;
  absl::StatusOr<runtimes::WaitOutcome> WaitOutcomeOf(const runtimes::ContainerId& id) override;
  absl::StatusOr<std::unique_ptr<runtimes::Subscription>> Watch(const runtimes::ContainerId& id,
                                                                runtimes::WatchFn on_event) override;

 private:
  struct Container;
  friend class ExecSession;

  explicit OciBackend(runtimes::BackendConfig config);
  absl::Status Init();
  absl::Status PrepareMonitorCgroup();

  // oci_recovery.cc
  absl::Status Recover();
  void RecoverOne(const std::string& name);
  void CleanOrphans();

  // oci_lifecycle.cc
  absl::Status PrepareRootfs(Container& c);
  absl::Status LaunchMonitor(Container& c, pid_t* monitor_pid, pid_t* init_pid, std::string* error);
  // Reads exit.json if present and moves the container to its final state.
  void CheckExit(const std::shared_ptr<Container>& c);
  void OnMonitorGone(const std::shared_ptr<Container>& c);
  absl::Status AdoptMonitor(const std::shared_ptr<Container>& c, const MonitorRecord& m);
  void WatchStateDir(const std::shared_ptr<Container>& c);
  void OnInotify();
  absl::Status SignalInit(Container& c, int signal);
  // Waits until the container is no longer running; false on timeout.
  bool AwaitExit(Container& c, absl::Duration timeout);
  void Publish(Container& c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts the spec's health check for a running container (no-op without one).
  void StartHealth(const std::shared_ptr<Container>& c);

  absl::StatusOr<std::shared_ptr<Container>> Find(const runtimes::ContainerId& id) const;
  runtimes::ContainerRecord ToRecord(const Container& c) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string ContainerDir(const std::string& name) const;
  LogFileSet LogsOf(const Container& c) const;

  const runtimes::BackendConfig config_;
  std::unique_ptr<RuntimeCli> runtime_;
  std::unique_ptr<images::ImageStore> images_;
  std::unique_ptr<base::EventLoop> loop_;
  std::optional<cgroups::HostLayout> layout_;
  std::string monitor_path_;
  // Set when container_auth is configured: every new container gets a token.
  std::optional<runtimes::ContainerAuthContext> container_auth_;
  // cgroup.procs files a monitor writes itself into (one per hierarchy).
  std::vector<std::string> monitor_cgroup_procs_;
  base::UniqueFd inotify_;
  base::EventLoop::Handle inotify_handle_ = 0;
  std::unique_ptr<LogNotifier> log_notifier_;
  std::unique_ptr<HealthChecker> health_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<runtimes::ContainerId, std::shared_ptr<Container>> containers_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<int, std::shared_ptr<Container>> by_watch_ ABSL_GUARDED_BY(mu_);
  runtimes::StateBus bus_;
};

// Registers "oci" in a backend registry.
void RegisterOciBackend(runtimes::BackendRegistry* registry);

}  // namespace zlayer::oci
