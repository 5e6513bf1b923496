// zlayer-agentd: the container node agent.
//
// Start-up order matters to systemd and to clients: recover on-disk state first,
// then listen, then say READY=1. Shutdown reverses it and leaves containers alone:
// they belong to their monitors, not to this process.
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agentd/backends.h"
#include "agentd/config.h"
#include "agentd/journal_sink.h"
#include "agentd/metrics_endpoint.h"
#include "agentd/server.h"
#include "agentd/systemd.h"
#include "agentd/watchdog.h"
#include "auth/container_auth.h"
#include "base/fs_util.h"
#include "base/logging.h"
#include "base/time_util.h"
#include "base/unique_fd.h"
#include "cgroups/layout.h"
#include "runtimes/backend_registry.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/stdout_sinks.h"
#ifdef ZLAYER_AGENTD_TEST_HOOKS
#include "agentd/test_hooks.h"
#endif

namespace zlayer::agentd {
namespace {

void SetupLogging(const AgentConfig& config, bool journal) {
  std::vector<spdlog::sink_ptr> sinks;
  if (journal) {
    // journald stamps entries itself; fields carry the container.
    sinks.push_back(std::make_shared<JournalSink>(JournalSink::NativeSocketPresent()));
  } else {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    sink->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        "%Y-%m-%dT%H:%M:%S.%fZ %l %n: %v", spdlog::pattern_time_type::utc));
    sinks.push_back(sink);
  }
  base::SetLogSinks(std::move(sinks));
  spdlog::level::level_enum level = spdlog::level::info;
  base::ParseLogLevel(config.log_level, &level);
  base::SetLogLevel(level);
}

// "backend=oci runtime=runc 1.1.5 containers=3 running=2 exited=1 failed=0": what
// `systemctl status` shows on its Status: line.
std::string Summary(core::ContainerRuntime& runtime) {
  std::string out = absl::StrCat("backend=", runtime.BackendName());
  if (std::string rt = runtime.RuntimeDescription(); !rt.empty()) {
    absl::StrAppend(&out, " runtime=", rt);
  }
  auto records = runtime.ListContainers({});
  if (!records.ok()) {
    absl::StrAppend(&out, " containers=? (", records.status().message(), ")");
    return out;
  }
  size_t running = 0, exited = 0, failed = 0;
  for (const auto& r : *records) {
    using Phase = core::ContainerState::Phase;
    switch (r.state.phase) {
      case Phase::kRunning:
      case Phase::kStopping: ++running; break;
      case Phase::kExited: ++exited; break;
      case Phase::kFailed: ++failed; break;
      default: break;
    }
  }
  absl::StrAppend(&out, " containers=", records->size(), " running=", running,
                  " exited=", exited, " failed=", failed);
  return out;
}

int Run(int argc, char** argv) {
  AgentConfig config;
  auto flags = LoadConfiguration(argc, argv, &config);
  if (!flags.ok()) {
    std::fprintf(stderr, "zlayer-agentd: %s\n", std::string(flags.status().message()).c_str());
    return 2;
  }
  if (flags->exit) return flags->exit_code;
  if (flags->check_config) {
    // The secret file is read at start-up; a check that passed it by would let a
    // bad one turn into a restart loop under systemd.
    if (config.backend_config.container_auth.enabled) {
      if (auto auth = auth::LoadContainerAuth(config.backend_config.container_auth); !auth.ok()) {
        std::fprintf(stderr, "zlayer-agentd: %s\n", std::string(auth.status().message()).c_str());
        return 2;
      }
    }
    std::fprintf(stdout, "# zlayer-agentd: configuration OK (file: %s)\n%s",
                 config.config_file.empty() ? "none, defaults and flags"
                                            : config.config_file.c_str(),
                 ConfigToYaml(config).c_str());
    return 0;
  }

  // Before any thread exists: this reads and scrubs the environment.
  auto sd = TakeSystemdEnvironment();
  if (!sd.ok()) {
    std::fprintf(stderr, "zlayer-agentd: %s\n", std::string(sd.status().message()).c_str());
    return 1;
  }
  SetupLogging(config, sd->stderr_is_journal);
  auto log = base::Logger("agentd");

  // Signals are taken through a signalfd; block them before any thread exists so
  // that every thread inherits the mask.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  ::pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  base::UniqueFd sigfd(::signalfd(-1, &mask, SFD_CLOEXEC));
  if (!sigfd) {
    log->critical("signalfd failed: {}", std::strerror(errno));
    return 1;
  }

  const bool activated = !sd->listen_fds.empty();
  if (activated) {
    // The .socket unit owns the API socket: its path, mode and group apply, and we
    // must neither bind nor unlink it.
    log->info("socket activation: serving {} inherited socket(s) path={}", sd->listen_fds.size(),
              sd->listen_path.empty() ? "-" : sd->listen_path);
    if (!sd->listen_path.empty() && sd->listen_path != config.socket_path) {
      log->info("listen.socket={} is not bound under socket activation", config.socket_path);
    }
  }
  const std::string api_socket =
      activated && !sd->listen_path.empty() ? sd->listen_path : config.socket_path;

  NotifyStatus(absl::StrCat("starting: backend=", config.backend, "; recovering state from ",
                            config.backend_config.data_dir));
  // The journal opens before the backend, which journals what recovery finds
  // (exits while the agent was down among it). The mock keeps its events in
  // memory, as it keeps everything else.
  events::EventJournalConfig journal_config = config.events;
  journal_config.path = config.backend == "mock" ? std::string(":memory:")
                                                 : config.backend_config.data_dir + "/events.db";
  if (config.backend != "mock") (void)base::MakeDirs(config.backend_config.data_dir, 0700);
  auto journal = events::EventJournal::Open(journal_config);
  if (!journal.ok()) {
    log->critical("{}", journal.status().message());
    NotifyStatus(absl::StrCat("failed: ", journal.status().message()));
    return 1;
  }
  (*journal)->Record(
      {.kind = core::EventKind::kAgentStarted,
       .message = absl::StrCat("zlayer-agentd ", ZLAYER_VERSION, " backend ", config.backend)});
  config.backend_config.events = journal->get();

  runtimes::BackendRegistry registry;
  RegisterBuiltinBackends(&registry);
  const absl::Time recovery_start = absl::Now();
  auto backend = registry.Create(config.backend, config.backend_config);
  if (!backend.ok()) {
    log->critical("backend {} failed to start: {}", config.backend, backend.status().message());
    NotifyStatus(
        absl::StrCat("failed: backend ", config.backend, ": ", backend.status().message()));
    return 1;
  }
  const absl::Duration recovery = absl::Now() - recovery_start;
  core::ContainerRuntime& containers = *backend->containers;
  if (auto all = containers.ListContainers({}); all.ok()) {
    std::vector<core::ContainerId> ids;
    for (const auto& r : *all) ids.push_back(r.id);
    if (size_t n = (*journal)->ReconcileRemoved(ids)) {
      log->info("journaled {} removal(s) that happened while the agent was stopping", n);
    }
  }
  const std::string recovered = Summary(containers);
  log->info("backend ready {} recovery_ms={}", recovered, absl::ToInt64Milliseconds(recovery));
  (*journal)->Record({.kind = core::EventKind::kAgentRecovered, .message = recovered});

  base::WorkQueue queue("agentd-work", static_cast<size_t>(config.work_threads));
  base::Scheduler scheduler("agentd-timer");
  StreamRegistry streams;
  ServiceContext context;
  context.containers = backend->containers.get();
  context.images = backend->images.get();
  context.queue = &queue;
  context.scheduler = &scheduler;
  context.streams = &streams;
  context.events = journal->get();
  context.started_at = base::NowRealtime();
  context.version = ZLAYER_VERSION;
  context.spool_dir = config.backend_config.data_dir;
  if (config.backend == "mock") context.spool_dir = "/tmp";
  context.cgroup_mode = core::CgroupModeName(cgroups::DetectMode());

  // Metrics listen before the API does, so GetAgentInfo can name the bound address
  // and the first RPC is counted.
  metrics::RpcMetrics rpc_metrics;
  metrics::PullMetrics pull_metrics;
  MetricsSources metric_sources{&context, &rpc_metrics, &pull_metrics,
                                config.backend == "mock" ? "" : journal_config.path};
  std::unique_ptr<metrics::HttpEndpoint> metrics_endpoint;
  if (!config.metrics_address.empty()) {
    auto started = StartMetricsEndpoint(config.metrics_address, &metric_sources);
    if (!started.ok()) {
      log->critical("{}", started.status().message());
      NotifyStatus(absl::StrCat("failed: ", started.status().message()));
      return 1;
    }
    metrics_endpoint = std::move(*started);
    context.pulls = &pull_metrics;
    context.metrics_address = metrics_endpoint->address();
    if (metrics_endpoint->loopback()) {
      log->info("metrics at http://{}/metrics", metrics_endpoint->address());
    } else {
      log->warn(
          "metrics at http://{}/metrics are reachable beyond this host, without "
          "authentication; they name every container and image",
          metrics_endpoint->address());
    }
  }

  ServerOptions options;
  options.inherited_fds = sd->listen_fds;
  if (!activated) options.socket_path = config.socket_path;
  options.socket_mode = config.socket_mode;
  options.socket_group = config.socket_group;
  options.tcp_address = config.tcp_address;
  if (metrics_endpoint) options.rpc_metrics = &rpc_metrics;
#ifdef ZLAYER_AGENTD_TEST_HOOKS
  TestHooksService hooks(&queue, config.work_threads);
  options.customize = [&hooks](grpc::ServerBuilder* builder) {
    builder->RegisterCallbackGenericService(&hooks);
  };
  log->warn("this is zlayer-agentd-testhooks, a test build with fault injection");
#endif
  auto server = AgentServer::Start(options, context);
  if (!server.ok()) {
    log->critical("cannot serve: {}", server.status().message());
    NotifyStatus(absl::StrCat("failed: ", server.status().message()));
    return 1;
  }

  // Listeners accept and state is recovered: only now are we ready.
  NotifyReady(absl::StrCat("ready: ", recovered, "; recovered in ",
                           absl::FormatDuration(absl::Trunc(recovery, absl::Milliseconds(1))),
                           "; serving ", api_socket, activated ? " (socket activation)" : ""));
  log->info("zlayer-agentd {} ready", ZLAYER_VERSION);

  std::unique_ptr<LivenessProbe> probe;
  absl::Duration ping_interval = absl::InfiniteDuration();
  if (sd->watchdog_interval) {
    auto self = (*server)->SelfChannel();
    if (!self.ok()) {
      log->critical("watchdog: {}", self.status().message());
      return 1;
    }
    ping_interval = *sd->watchdog_interval;
    LivenessOptions liveness;
    liveness.interval = ping_interval;
    liveness.queue_stall_timeout = config.queue_stall_timeout;
    probe = std::make_unique<LivenessProbe>(*self, &queue, liveness);
    log->info("watchdog on ping_interval={} queue_stall_timeout={}",
              absl::FormatDuration(ping_interval),
              absl::FormatDuration(config.queue_stall_timeout));
    NotifyWatchdog();
  }
  // The status line is refreshed now and then so `systemctl status` stays current.
  const absl::Duration status_every = absl::Seconds(10);
  absl::Time next_status = absl::Now() + status_every;
  absl::Time next_ping = probe ? absl::Now() + ping_interval : absl::InfiniteFuture();
  bool withholding = false;

  for (;;) {
    const absl::Time next = std::min(next_status, next_ping);
    const int64_t timeout_ms =
        std::clamp<int64_t>(absl::ToInt64Milliseconds(next - absl::Now()) + 1, 0, 60'000);
    struct pollfd pfd = {sigfd.get(), POLLIN, 0};
    const int n = ::poll(&pfd, 1, static_cast<int>(timeout_ms));
    if (n < 0 && errno != EINTR) {
      log->error("poll failed: {}", std::strerror(errno));
      break;
    }
    if (n > 0) {
      signalfd_siginfo info;
      if (::read(sigfd.get(), &info, sizeof info) == sizeof info) {
        if (info.ssi_signo != SIGHUP) {
          log->info("received {}; shutting down (containers keep running)",
                    strsignal(static_cast<int>(info.ssi_signo)));
          break;
        }
        // Reload: the same sources as at start-up (defaults, file, flags), so a
        // flag still overrides the file. Only the log level changes live.
        NotifyReloading(absl::StrCat("reloading ", config.config_file.empty()
                                                       ? std::string("(no config file)")
                                                       : config.config_file));
        AgentConfig fresh;
        auto reloaded = LoadConfiguration(argc, argv, &fresh);
        std::string outcome;
        if (reloaded.ok()) {
          spdlog::level::level_enum level = spdlog::level::info;
          base::ParseLogLevel(fresh.log_level, &level);
          base::SetLogLevel(level);
          config.log_level = fresh.log_level;
          const auto pending = RestartRequiredChanges(config, fresh);
          log->info("reloaded config file={} log_level={}",
                    fresh.config_file.empty() ? "-" : fresh.config_file, config.log_level);
          if (!pending.empty()) {
            log->warn("changed settings take effect at the next restart: {}",
                      absl::StrJoin(pending, ", "));
          }
          outcome = pending.empty() ? "reloaded"
                                    : absl::StrCat("reloaded; restart to apply ",
                                                   absl::StrJoin(pending, ", "));
        } else {
          log->error("reload failed, keeping the old settings: {}", reloaded.status().message());
          outcome = "reload failed, old settings kept; see the log";
        }
        NotifyReady(absl::StrCat("ready (", outcome, "): ", Summary(containers)));
      }
    }
    const absl::Time now = absl::Now();
    if (probe && now >= next_ping) {
      std::string why;
      if (probe->Tick(&why)) {
        NotifyWatchdog();
        if (withholding) {
          log->info("watchdog pings resumed");
          NotifyStatus(absl::StrCat("ready: ", Summary(containers)));
        }
        withholding = false;
      } else if (!withholding) {
        log->error("withholding watchdog ping: {}", why);
        NotifyStatus(absl::StrCat("unhealthy, withholding watchdog pings: ", why));
        withholding = true;
      }
      // A steady cadence; after a long stall, start again from now.
      next_ping += ping_interval;
      if (next_ping < now) next_ping = now + ping_interval;
    }
    if (now >= next_status) {
      if (!withholding) NotifyStatus(absl::StrCat("ready: ", Summary(containers)));
      next_status = now + status_every;
    }
  }

  NotifyStopping("stopping: finishing in-flight calls; containers keep running");
  probe.reset();
  // Scrapes read the backend: the listener goes before it does.
  metrics_endpoint.reset();
  (*server)->Shutdown(config.shutdown_grace);
  server->reset();
  queue.Shutdown();
  // Containers go before images: the backend releases images it still holds.
  backend->containers.reset();
  backend->images.reset();
  log->info("stopped");
  return 0;
}

}  // namespace
}  // namespace zlayer::agentd

int main(int argc, char** argv) { return zlayer::agentd::Run(argc, argv); }
