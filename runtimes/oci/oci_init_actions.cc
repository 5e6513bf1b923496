// Init actions: the steps of spec.init, run before the main process (init_actions.h).
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "base/fs_util.h"
#include "base/logging.h"
#include "base/process.h"
#include "core/errors.h"
#include "runtimes/oci/init_actions.h"
#include "runtimes/oci/init_process.h"
#include "runtimes/oci/oci_container.h"

namespace zlayer::oci {

using Kind = core::InitAction::Kind;

namespace {

// After a failed attempt, before the next.
constexpr absl::Duration kRetryDelay = absl::Seconds(1);
// A killed step's monitor writes its exit record within this.
constexpr absl::Duration kKillGrace = absl::Seconds(10);
// The probe stops itself at the attempt's bound; this is for a probe that hangs.
constexpr absl::Duration kProbeSlack = absl::Seconds(5);

bool IsProbeHost(const std::string& host) {
  struct in_addr addr;
  return host.empty() || host == "localhost" || ::inet_pton(AF_INET, host.c_str(), &addr) == 1;
}

// The host of http://host[:port][/path], or an error.
absl::Status CheckUrl(const std::string& field, const std::string& url) {
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "http://")) {
    return core::InvalidSpec(absl::StrCat(
        field, ".url '", url,
        "' must be an http:// URL (init waits run inside the container's network, without TLS)"));
  }
  absl::string_view hostport = rest.substr(0, rest.find('/'));
  std::string host(hostport);
  if (const size_t colon = hostport.rfind(':'); colon != absl::string_view::npos) {
    host = std::string(hostport.substr(0, colon));
    const std::string port(hostport.substr(colon + 1));
    const int n = port.empty() || port.find_first_not_of("0123456789") != std::string::npos
                      ? 0
                      : std::atoi(port.c_str());
    if (n < 1 || n > 65535) {
      return core::InvalidSpec(absl::StrCat(field, ".url '", url, "' has no valid port"));
    }
  }
  if (host.empty() || !IsProbeHost(host)) {
    return core::InvalidSpec(absl::StrCat(field, ".url '", url,
                                          "': the host must be an IPv4 address or localhost"));
  }
  return absl::OkStatus();
}

// What a run step's monitor is launched with; the launcher fills the backend's
// MonitorLaunch from it (that type is private to the backend).
struct StepLaunch {
  std::string runtime_id;
  std::string bundle;
  std::string state_dir;
  std::string cgroups_path;
  std::string log_path;
};
using Launcher = std::function<absl::Status(const StepLaunch&, pid_t* monitor_pid, std::string*)>;

// Waits for the step's exit record until `deadline`; nullopt on timeout. A monitor
// that ends without one is an error.
absl::StatusOr<std::optional<ExitRecord>> AwaitExitRecord(const std::string& path, int monitor_fd,
                                                          absl::Time deadline) {
  for (;;) {
    if (::access(path.c_str(), F_OK) == 0) return ReadExitRecord(path);
    const int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (left <= 0) return std::optional<ExitRecord>();
    // The record appears before the monitor exits; a readable pidfd is the monitor
    // gone, and the record is then there or never will be.
    if (monitor_fd < 0) {
      ::usleep(50'000);
      continue;
    }
    struct pollfd p = {monitor_fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 50))) == 1) {
      if (::access(path.c_str(), F_OK) == 0) return ReadExitRecord(path);
      return core::Internal("its monitor ended without an exit record");
    }
  }
}

// One attempt of a run step: a container from `config`, awaited for `timeout`. OK
// when it exits 0; otherwise the cause, as a phrase ("exited 2").
absl::Status RunStepOnce(const RuntimeCli& runtime, const Launcher& launch, const StepLaunch& step,
                         const nlohmann::json& config, absl::Duration timeout) {
  // A step cut short by an agent crash may have left its directory (the runtime's
  // container itself went with recovery's orphan sweep).
  (void)base::RemoveTree(step.bundle);
  if (auto s = base::MakeDirs(step.state_dir, 0700); !s.ok()) return s;
  if (auto s = base::WriteFileAtomic(step.bundle + "/config.json", config.dump(2), 0600);
      !s.ok()) {
    return s;
  }
  const absl::Time deadline = absl::Now() + timeout;
  pid_t monitor_pid = 0;
  std::string error;
  absl::Status launched = launch(step, &monitor_pid, &error);
  base::UniqueFd monitor_fd(monitor_pid > 0 ? base::PidfdOpen(monitor_pid) : -1);
  // Whatever happens below: the monitor is let finish its own cleanup (it deletes
  // the runtime's state after the exit record), then the rest goes.
  auto cleanup = [&] {
    if (monitor_fd) {
      struct pollfd p = {monitor_fd.get(), POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(kKillGrace)));
    }
    struct stat st;
    if (::lstat(absl::StrCat(runtime.root(), "/", step.runtime_id).c_str(), &st) == 0) {
      (void)runtime.Delete(step.runtime_id, /*force=*/true);
    }
    (void)base::RemoveTree(step.bundle);
  };
  if (!launched.ok()) {
    cleanup();
    if (!error.empty()) return core::Internal(absl::StrCat("could not start: ", error));
    return launched;
  }
  const std::string exit_path = step.state_dir + "/exit.json";
  auto exited = AwaitExitRecord(exit_path, monitor_fd.get(), deadline);
  if (exited.ok() && !exited->has_value()) {
    (void)runtime.Kill(step.runtime_id, SIGKILL, /*all=*/true);
    (void)AwaitExitRecord(exit_path, monitor_fd.get(), absl::Now() + kKillGrace);
    cleanup();
    return absl::DeadlineExceededError(
        absl::StrCat("timed out after ", absl::FormatDuration(timeout), " (killed)"));
  }
  cleanup();
  if (!exited.ok()) return exited.status();
  const ExitRecord& record = **exited;
  if (record.runtime_error) return core::Internal(absl::StrCat("could not start: ", record.error));
  if (record.exit_code == 0) return absl::OkStatus();
  std::string cause = absl::StrCat("exited ", record.exit_code);
  if (record.oom_killed) {
    absl::StrAppend(&cause, " (OOM killed)");
  } else if (record.signal != 0) {
    absl::StrAppend(&cause, " (signal ", record.signal, ")");
  }
  return core::Internal(cause);
}

// One attempt of a wait step: the probe, which keeps trying until `timeout`.
absl::Status WaitOnce(const std::vector<std::string>& argv, absl::Duration timeout) {
  base::RunOptions run;
  run.argv = argv;
  run.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  run.timeout = timeout + kProbeSlack;
  run.max_output = 64 << 10;
  auto result = base::RunCommand(run);
  if (!result.ok()) return result.status();
  if (result->ok()) return absl::OkStatus();
  std::string why(absl::StripAsciiWhitespace(result->out + result->err));
  why = why.substr(0, why.find('\n'));
  if (why.empty()) why = absl::StrCat("the probe exited ", result->status.code);
  return core::Internal(absl::StrCat(why, " (timeout ", absl::FormatDuration(timeout), ")"));
}

}  // namespace

absl::Status ValidateInitActions(const std::vector<core::InitAction>& actions) {
  std::set<std::string> names;
  for (size_t i = 0; i < actions.size(); ++i) {
    const core::InitAction& a = actions[i];
    const std::string field = absl::StrCat("spec.init[", i, "]");
    if (!a.name.empty()) {
      if (!names.insert(a.name).second) {
        return core::InvalidSpec(
            absl::StrCat(field, ".name '", a.name, "' is used by an earlier step"));
      }
      // It goes into log lines and failure reasons.
      for (unsigned char c : a.name) {
        if (c < 0x20 || c == 0x7f) {
          return core::InvalidSpec(absl::StrCat(field, ".name must not hold control characters"));
        }
      }
    }
    if (a.timeout < absl::ZeroDuration()) {
      return core::InvalidSpec(absl::StrCat(field, ".timeout must not be negative"));
    }
    switch (a.kind) {
      case Kind::kWaitTcp:
        if (a.port == 0 || a.port > 65535) {
          return core::InvalidSpec(absl::StrCat(field, ".wait_tcp.port must be 1-65535"));
        }
        if (!IsProbeHost(a.host)) {
          return core::InvalidSpec(absl::StrCat(field, ".wait_tcp.host '", a.host,
                                                "' must be an IPv4 address or localhost"));
        }
        break;
      case Kind::kWaitHttp:
        if (auto s = CheckUrl(field + ".wait_http", a.url); !s.ok()) return s;
        if (a.expect_status != 0 && (a.expect_status < 100 || a.expect_status > 599)) {
          return core::InvalidSpec(
              absl::StrCat(field, ".wait_http.expect_status must be 0 (any 2xx) or 100-599"));
        }
        break;
      case Kind::kRun:
        if (a.command.empty() || a.command[0].empty()) {
          return core::InvalidSpec(absl::StrCat(field, ".run.command must not be empty"));
        }
        break;
    }
  }
  return absl::OkStatus();
}

std::string InitStepName(const core::InitAction& action, size_t index) {
  return action.name.empty() ? absl::StrCat("init[", index, "]") : action.name;
}

std::string DescribeInitStep(const core::InitAction& action) {
  switch (action.kind) {
    case Kind::kWaitTcp:
      return absl::StrCat("wait_tcp ", action.host.empty() ? "127.0.0.1" : action.host, ":",
                          action.port);
    case Kind::kWaitHttp:
      return absl::StrCat("wait_http ", action.url);
    case Kind::kRun:
      return absl::StrCat("run ", absl::StrJoin(action.command, " "));
  }
  return "";
}

absl::Duration InitStepTimeout(const core::InitAction& action) {
  return action.timeout > absl::ZeroDuration() ? action.timeout : kDefaultInitTimeout;
}

std::vector<std::string> InitWaitCommand(const std::string& monitor_path, const std::string& netns,
                                         const core::InitAction& action, absl::Duration timeout) {
  const std::string ms = std::to_string(absl::ToInt64Milliseconds(timeout));
  if (action.kind == Kind::kWaitHttp) {
    return {monitor_path, "probe", "wait", "http", netns, action.url,
            std::to_string(action.expect_status), ms};
  }
  return {monitor_path, "probe", "wait", "tcp", netns,
          action.host.empty() ? "127.0.0.1" : action.host, std::to_string(action.port), ms};
}

nlohmann::json InitStepConfig(const nlohmann::json& container_config, const std::string& rootfs,
                              const std::vector<std::string>& command,
                              const std::string& cgroups_path) {
  nlohmann::json config = container_config;
  config["root"]["path"] = rootfs;
  nlohmann::json& process = config["process"];
  std::vector<std::string> args;
  // Behind the agent's init when the main process is: a step that starts children
  // gets its signals forwarded and its zombies reaped the same way.
  const auto old = process.value("args", std::vector<std::string>{});
  if (old.size() >= 2 && old[0] == kInitMountPath && old[1] == "--") {
    args = {old[0], old[1]};
  }
  args.insert(args.end(), command.begin(), command.end());
  process["args"] = args;
  process["terminal"] = false;
  config["linux"]["cgroupsPath"] = cgroups_path;
  return config;
}

absl::Status OciBackend::RunInitActions(const std::shared_ptr<Container>& container) {
  auto log = base::Logger("oci");
  std::vector<core::InitAction> steps;
  nlohmann::json config;
  network::NetworkMode mode;
  {
    absl::MutexLock lock(&mu_);
    steps = container->record.spec.init;
    config = container->config;
    mode = container->network_mode;
  }
  if (steps.empty()) return absl::OkStatus();
  if (config.is_null()) {
    auto text = base::ReadFile(container->ConfigPath());
    if (!text.ok()) return core::Annotate(text.status(), "init steps: the container's config");
    config = nlohmann::json::parse(*text, nullptr, false);
    if (config.is_discarded()) {
      return core::Internal(absl::StrCat(container->ConfigPath(), " is not JSON"));
    }
  }
  const std::string log_path = container->LogDir() + "/container.log";
  const std::string init_dir = container->dir + "/init";
  // Not the container's state/ dir: the backend watches that one for exit.json.
  (void)base::RemoveTree(init_dir);
  Launcher launch = [this](const StepLaunch& s, pid_t* monitor_pid, std::string* error) {
    pid_t init_pid = 0;
    return LaunchMonitor({s.runtime_id, s.bundle, s.state_dir, s.cgroups_path, s.log_path},
                         monitor_pid, &init_pid, error);
  };

  for (size_t i = 0; i < steps.size(); ++i) {
    const core::InitAction& step = steps[i];
    const std::string name = InitStepName(step, i);
    const absl::Duration timeout = InitStepTimeout(step);
    const uint32_t attempts = step.retries + 1;
    const bool run = step.kind == Kind::kRun;
    (void)AppendLogMarker(log_path,
                          absl::StrCat("[zlayer] init step '", name, "' (", DescribeInitStep(step),
                                       ")"));
    log->info("init step starting container_id={} step={} what=\"{}\" timeout={} attempts={}",
              container->name, name, DescribeInitStep(step), absl::FormatDuration(timeout),
              attempts);
    std::vector<std::string> probe;
    std::string cause;
    if (!run) {
      switch (mode.kind) {
        case network::NetworkMode::Kind::kHost:
          probe = InitWaitCommand(monitor_path_, "host", step, timeout);
          break;
        case network::NetworkMode::Kind::kNetwork:
          probe = InitWaitCommand(monitor_path_, NetnsPath(container->name), step, timeout);
          break;
        case network::NetworkMode::Kind::kNone:
          // Its namespace is the runtime's, made with the main process: before that
          // there is nothing to wait for, and no attempt would change it.
          cause = "the container's network is none: nothing is reachable before its main "
                  "process starts";
          break;
      }
    }
    const StepLaunch launch_spec{absl::StrCat(container->name, "-init-", i),
                                 absl::StrCat(init_dir, "/", i),
                                 absl::StrCat(init_dir, "/", i, "/state"),
                                 absl::StrCat(config_.cgroup_parent, "/", container->name, "-init"),
                                 log_path};
    const absl::Time began = absl::Now();
    uint32_t attempt = 0;
    absl::Status result = absl::OkStatus();
    while (cause.empty() && attempt < attempts) {
      if (attempt > 0) absl::SleepFor(kRetryDelay);
      // A stop through the API (it marks the container before waiting for the
      // operation lock held here) or the agent's shutdown ends the steps at once.
      if (shutting_down_) {
        cause = "the agent is shutting down";
        break;
      }
      {
        absl::MutexLock lock(&mu_);
        if (container->record.restart.stopped_by_api) cause = "stopped through the API";
      }
      if (!cause.empty()) break;
      ++attempt;
      result = run ? RunStepOnce(*runtime_, launch, launch_spec,
                                 InitStepConfig(config, container->Rootfs(), step.command,
                                                launch_spec.cgroups_path),
                                 timeout)
                   : WaitOnce(probe, timeout);
      if (result.ok()) break;
      log->info("init step attempt failed container_id={} step={} attempt={}/{} cause=\"{}\"",
                container->name, name, attempt, attempts, result.message());
    }
    if (cause.empty() && result.ok()) {
      log->info("init step done container_id={} step={} attempts={} took={}", container->name,
                name, attempt, absl::FormatDuration(absl::Trunc(absl::Now() - began,
                                                                absl::Milliseconds(1))));
      continue;
    }
    if (cause.empty()) cause = std::string(result.message());
    std::string why;
    if (attempt > 1) {
      why = absl::StrCat("init step '", name, "' failed after ", attempt, " attempts: ", cause);
    } else if (run) {
      why = absl::StrCat("init step '", name, "' ", cause);  // "... 'migrate' exited 2"
    } else {
      why = absl::StrCat("init step '", name, "' failed: ", cause);
    }
    (void)AppendLogMarker(log_path, absl::StrCat("[zlayer] ", why));
    log->warn("init step failed container_id={} step={} error=\"{}\"", container->name, name, why);
    (void)base::RemoveTree(init_dir);
    return absl::FailedPreconditionError(why);
  }
  (void)base::RemoveTree(init_dir);
  return absl::OkStatus();
}

}  // namespace zlayer::oci
