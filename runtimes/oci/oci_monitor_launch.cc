// Starting a zlayer-monitor and reading its report: the monitor runs the OCI
// runtime, owns the container's stdio and writes its exit record.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "base/fs_util.h"
#include "base/process.h"
#include "core/errors.h"
#include "runtimes/oci/oci_container.h"

namespace zlayer::oci {

namespace {

constexpr absl::Duration kMonitorStartTimeout = absl::Seconds(60);

}  // namespace

OciBackend::MonitorLaunch OciBackend::MainLaunch(const Container& container) const {
  return {container.name, container.dir, container.StateDir(),
          absl::StrCat(config_.cgroup_parent, "/", container.name),
          container.LogDir() + "/container.log"};
}

absl::Status OciBackend::LaunchMonitor(const MonitorLaunch& launch, pid_t* monitor_pid,
                                       pid_t* init_pid, std::string* error) {
  int sync[2];
  if (::pipe2(sync, O_CLOEXEC) != 0) return core::ErrnoError("pipe2");
  base::UniqueFd sync_r(sync[0]), sync_w(sync[1]);
  base::UniqueFd monitor_log(::open((launch.state_dir + "/monitor.log").c_str(),
                                    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  base::SpawnOptions spawn;
  spawn.argv = {monitor_path_,
                "--id",
                launch.runtime_id,
                "--bundle",
                launch.bundle,
                "--runtime",
                runtime_->info().path,
                "--runtime-root",
                runtime_->root(),
                "--state-dir",
                launch.state_dir,
                "--cgroups-path",
                launch.cgroups_path,
                "--log-path",
                launch.log_path,
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
        absl::StrCat("container monitor for ", launch.runtime_id, " failed to detach"));
  }
  std::string reply;
  const absl::Time deadline = absl::Now() + kMonitorStartTimeout;
  for (;;) {
    const int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (left <= 0) {
      return core::Internal(absl::StrCat("container ", launch.runtime_id,
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
    auto mlog = base::ReadFile(launch.state_dir + "/monitor.log");
    return core::Internal(
        absl::StrCat("container ", launch.runtime_id, ": the monitor ended without a report",
                     mlog.ok() && !mlog->empty() ? absl::StrCat(": ", *mlog) : ""));
  }
  if (!json.value("ok", false)) {
    *error = json.value("error", "unknown runtime error");
    return core::Internal(absl::StrCat("container ", launch.runtime_id, ": ", runtime_->info().name,
                                       " could not start it: ", *error));
  }
  *monitor_pid = json.value("monitor_pid", 0);
  *init_pid = json.value("init_pid", 0);
  return absl::OkStatus();
}

}  // namespace zlayer::oci
