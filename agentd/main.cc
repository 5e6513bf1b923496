// zlayer-agentd: the container node agent.
//
// Start-up order matters to systemd and to clients: recover on-disk state first,
// then listen, then say READY=1. Shutdown reverses it and leaves containers alone:
// they belong to their monitors, not to this process.
#include <signal.h>
#include <sys/signalfd.h>
#include <poll.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "absl/strings/str_cat.h"
#include "agentd/backends.h"
#include "agentd/config.h"
#include "agentd/journal_sink.h"
#include "agentd/server.h"
#include "agentd/systemd.h"
#include "agentd/watchdog.h"
#include "base/logging.h"
#include "base/time_util.h"
#include "base/unique_fd.h"
#include "cgroups/stats.h"
#include "runtimes/backend_registry.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/stdout_sinks.h"

namespace zlayer::agentd {
namespace {

void SetupLogging(const AgentConfig& config) {
  std::vector<spdlog::sink_ptr> sinks;
  if (StderrIsJournal()) {
    sinks.push_back(std::make_shared<JournalSink>());
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

std::string StatusLine(runtimes::Runtime& runtime, const std::string& what) {
  auto records = runtime.ListContainers({});
  size_t running = 0;
  if (records.ok()) {
    for (const auto& r : *records) {
      if (r.state.phase == runtimes::ContainerState::Phase::kRunning) ++running;
    }
  }
  std::string runtime_desc = runtime.RuntimeDescription();
  return absl::StrCat(what, "; backend=", runtime.BackendName(),
                      runtime_desc.empty() ? "" : absl::StrCat(" runtime=", runtime_desc),
                      " containers=", records.ok() ? records->size() : 0, " running=", running);
}

int Run(int argc, char** argv) {
  AgentConfig config;
  if (auto s = LoadConfigFromArgs(argc, argv, &config); !s.ok()) {
    std::fprintf(stderr, "zlayer-agentd: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  auto flags = ParseFlags(argc, argv, &config);
  if (!flags.ok()) {
    std::fprintf(stderr, "zlayer-agentd: %s\n", std::string(flags.status().message()).c_str());
    return 2;
  }
  if (flags->exit) return flags->exit_code;
  SetupLogging(config);
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

  auto inherited = TakeInheritedSockets();
  if (!inherited.ok()) {
    log->critical("socket activation: {}", inherited.status().message());
    return 1;
  }

  config.backend_config.agent_socket = config.socket_path;
  NotifyStatus(absl::StrCat("starting backend ", config.backend, "; recovering state"));
  runtimes::BackendRegistry registry;
  RegisterBuiltinBackends(&registry);
  auto runtime = registry.Create(config.backend, config.backend_config);
  if (!runtime.ok()) {
    log->critical("backend {} failed to start: {}", config.backend, runtime.status().message());
    NotifyStatus(absl::StrCat("failed: ", runtime.status().message()));
    return 1;
  }
  log->info("backend ready backend={} runtime={}", (*runtime)->BackendName(),
            (*runtime)->RuntimeDescription());

  base::WorkQueue queue("agentd-work", static_cast<size_t>(config.work_threads));
  base::Scheduler scheduler("agentd-timer");
  StreamRegistry streams;
  ServiceContext context;
  context.runtime = runtime->get();
  context.queue = &queue;
  context.scheduler = &scheduler;
  context.streams = &streams;
  context.started_at = base::NowRealtime();
  context.version = ZLAYER_VERSION;
  context.spool_dir = config.backend_config.data_dir;
  if (config.backend == "mock") context.spool_dir = "/tmp";

  ServerOptions options;
  options.inherited_fds = *inherited;
  // Under socket activation the .socket unit owns the path; we must not replace it.
  if (inherited->empty()) options.socket_path = config.socket_path;
  options.socket_mode = config.socket_mode;
  options.socket_group = config.socket_group;
  options.tcp_address = config.tcp_address;
  auto server = AgentServer::Start(options, context);
  if (!server.ok()) {
    log->critical("cannot serve: {}", server.status().message());
    NotifyStatus(absl::StrCat("failed: ", server.status().message()));
    return 1;
  }

  NotifyReady(StatusLine(**runtime, "ready"));
  log->info("zlayer-agentd {} ready", ZLAYER_VERSION);

  const auto watchdog_interval = WatchdogPingInterval();
  std::unique_ptr<LivenessProbe> probe;
  if (watchdog_interval) {
    probe = std::make_unique<LivenessProbe>((*server)->grpc_server(), &queue, *watchdog_interval);
    log->info("watchdog on ping_interval={}", absl::FormatDuration(*watchdog_interval));
    NotifyWatchdog();
  }
  // The status line is refreshed now and then so `systemctl status` stays current.
  const absl::Duration tick = watchdog_interval ? std::min(*watchdog_interval, absl::Seconds(10))
                                                : absl::Seconds(10);
  absl::Time next_status = absl::Now() + absl::Seconds(10);
  absl::Time next_ping = watchdog_interval ? absl::Now() + *watchdog_interval : absl::InfiniteFuture();
  bool wedged_logged = false;

  for (;;) {
    const absl::Time next = std::min(next_status, next_ping);
    const int timeout_ms =
        std::max<int64_t>(0, absl::ToInt64Milliseconds(next - absl::Now()) + 1);
    struct pollfd pfd = {sigfd.get(), POLLIN, 0};
    const int n = ::poll(&pfd, 1, static_cast<int>(std::min<int64_t>(timeout_ms, 60'000)));
    if (n < 0 && errno != EINTR) {
      log->error("poll failed: {}", std::strerror(errno));
      break;
    }
    if (n > 0) {
      signalfd_siginfo info;
      if (::read(sigfd.get(), &info, sizeof info) == sizeof info) {
        if (info.ssi_signo == SIGHUP) {
          NotifyReloading();
          AgentConfig reloaded;
          absl::Status s = config.config_file.empty()
                               ? absl::OkStatus()
                               : LoadConfigFile(config.config_file, &reloaded);
          if (s.ok()) {
            // Only settings that are safe to change live are applied.
            spdlog::level::level_enum level;
            if (!config.config_file.empty() && base::ParseLogLevel(reloaded.log_level, &level)) {
              base::SetLogLevel(level);
              config.log_level = reloaded.log_level;
            }
            log->info("reloaded config file={} log_level={}", config.config_file, config.log_level);
          } else {
            log->error("reload failed, keeping the old settings: {}", s.message());
          }
          NotifyReady(StatusLine(**runtime, s.ok() ? "ready (reloaded)" : "ready (reload failed)"));
        } else {
          log->info("received {}; shutting down (containers keep running)",
                    strsignal(static_cast<int>(info.ssi_signo)));
          break;
        }
      }
    }
    const absl::Time now = absl::Now();
    if (probe && now >= next_ping) {
      std::string why;
      if (probe->Tick(&why)) {
        NotifyWatchdog();
        wedged_logged = false;
      } else if (!wedged_logged) {
        log->error("withholding watchdog ping: {}", why);
        wedged_logged = true;
      }
      next_ping = now + *watchdog_interval;
    }
    if (now >= next_status) {
      NotifyStatus(StatusLine(**runtime, "ready"));
      next_status = now + tick;
    }
  }

  NotifyStopping("stopping: finishing in-flight calls");
  (*server)->Shutdown(absl::Seconds(10));
  server->reset();
  probe.reset();
  queue.Shutdown();
  runtime->reset();
  log->info("stopped");
  return 0;
}

}  // namespace
}  // namespace zlayer::agentd

int main(int argc, char** argv) { return zlayer::agentd::Run(argc, argv); }
