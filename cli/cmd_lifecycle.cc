// Container lifecycle: create, start, run, stop, kill, rm.
#include <signal.h>

#include <atomic>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cli/command.h"
#include "cli/format.h"
#include "cli/names.h"
#include "cli/ops.h"
#include "cli/pull_progress.h"
#include "cli/signals.h"
#include "core/types.h"
#include "deploy/values.h"
#include "proto/convert/convert.h"
#include "proto/convert/deployment.h"
#include "supervise/restart_policy.h"

namespace zlayer::cli {
namespace {

absl::Status Bad(absl::string_view option, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(option, ": ", message));
}

// KEY=VALUE; a bare KEY takes the value from our own environment (as docker -e does).
absl::Status ParseAssignments(const std::vector<std::string>& items, absl::string_view option,
                              bool from_env, std::map<std::string, std::string>* out) {
  for (const auto& item : items) {
    const size_t eq = item.find('=');
    std::string key = item.substr(0, eq);
    if (key.empty()) return Bad(option, absl::StrCat("expected KEY=VALUE, got \"", item, "\""));
    if (eq != std::string::npos) {
      (*out)[key] = item.substr(eq + 1);
    } else if (!from_env) {
      return Bad(option, absl::StrCat("expected KEY=VALUE, got \"", item, "\""));
    } else if (const char* v = std::getenv(key.c_str())) {
      (*out)[key] = v;
    }
  }
  return absl::OkStatus();
}

// The ServiceSpec for create/run from flags; the same type a YAML spec produces, and
// sent through the same ToProto.
// -p [HOST:]CONTAINER[/tcp|/udp]: an endpoint whose port is the host's and whose
// target port is the container's.
absl::StatusOr<core::EndpointSpec> ParsePublish(const std::string& item) {
  const auto bad = [&] {
    return Bad("-p/--publish", absl::StrCat("'", item, "': expected [HOST:]CONTAINER[/tcp|/udp], ",
                                            "ports from 1 to 65535"));
  };
  std::string text = item;
  core::EndpointSpec endpoint;
  endpoint.protocol = core::EndpointProtocol::kTcp;
  if (const size_t slash = text.find('/'); slash != std::string::npos) {
    const std::string protocol = text.substr(slash + 1);
    if (protocol == "udp") {
      endpoint.protocol = core::EndpointProtocol::kUdp;
    } else if (protocol != "tcp") {
      return bad();
    }
    text = text.substr(0, slash);
  }
  uint32_t host = 0, container = 0;
  if (const size_t colon = text.find(':'); colon != std::string::npos) {
    if (!absl::SimpleAtoi(text.substr(0, colon), &host) ||
        !absl::SimpleAtoi(text.substr(colon + 1), &container)) {
      return bad();
    }
  } else {
    if (!absl::SimpleAtoi(text, &container)) return bad();
    host = container;
  }
  if (host == 0 || host > 65535 || container == 0 || container > 65535) return bad();
  endpoint.name = absl::StrCat("p", host);
  endpoint.port = host;
  endpoint.target_port = container;
  return endpoint;
}

absl::StatusOr<core::ServiceSpec> SpecFromFlags(const ParsedArgs& args) {
  core::ServiceSpec spec;
  spec.replicas = 1;
  spec.image.name = args.args[0];
  spec.command.args.assign(args.args.begin() + 1, args.args.end());
  if (auto e = args.Value("entrypoint")) spec.command.entrypoint = {*e};
  spec.command.workdir = args.ValueOr("workdir", "");
  spec.user = args.ValueOr("user", "");
  spec.hostname = args.ValueOr("hostname", "");
  if (auto network = args.Value("network")) {
    if (!core::ValidateNetworkName(*network).ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--network '", *network, "': expected bridge, none, host or a network's name"));
    }
    spec.network = *network;
  }
  for (const auto& item : args.Values("publish")) {
    auto endpoint = ParsePublish(item);
    if (!endpoint.ok()) return endpoint.status();
    spec.endpoints.push_back(*endpoint);
  }
  if (auto s = ParseAssignments(args.Values("env"), "-e/--env", true, &spec.env); !s.ok()) return s;
  if (auto s = ParseAssignments(args.Values("label"), "-l/--label", false, &spec.labels); !s.ok()) {
    return s;
  }
  if (auto cpus = args.Value("cpus")) {
    double v = 0;
    if (!absl::SimpleAtod(*cpus, &v) || !(v > 0)) {
      return Bad("--cpus", absl::StrCat("expected a number of cores like 0.5, got \"", *cpus, "\""));
    }
    spec.resources.cpu = v;
  }
  if (auto mem = args.Value("memory")) {
    auto bytes = deploy::ParseSize(*mem);
    if (!bytes.ok()) return Bad("-m/--memory", bytes.status().message());
    spec.resources.memory_bytes = *bytes;
  }
  if (auto pids = args.Value("pids-limit")) {
    int64_t v = 0;
    if (!absl::SimpleAtoi(*pids, &v) || v <= 0) {
      return Bad("--pids-limit", absl::StrCat("expected a positive number, got \"", *pids, "\""));
    }
    spec.resources.pids_limit = v;
  }
  for (const auto& [option, list] : {std::pair{"--cap-add", &spec.cap_add},
                                     std::pair{"--cap-drop", &spec.cap_drop}}) {
    for (const auto& c : args.Values(option + 2)) {
      auto cap = deploy::NormalizeCapability(c);
      if (!cap.ok()) return Bad(option, cap.status().message());
      list->push_back(*cap);
    }
  }
  spec.privileged = args.Has("privileged");
  spec.read_only_root_fs = args.Has("read-only");
  if (auto sig = args.Value("stop-signal")) {
    auto name = deploy::NormalizeSignal(*sig);
    if (!name.ok()) return Bad("--stop-signal", name.status().message());
    spec.stop_signal = *name;
  }
  if (auto grace = args.Value("stop-timeout")) {
    auto d = deploy::ParseSpecDuration(*grace);
    if (!d.ok()) return Bad("--stop-timeout", d.status().message());
    spec.stop_grace_period = *d;
  }
  if (args.Has("job")) spec.rtype = core::ServiceType::kJob;
  if (auto restart = args.Value("restart")) {
    auto policy = supervise::ParsePolicyName(*restart);
    if (!policy.ok()) return Bad("--restart", policy.status().message());
    spec.restart = *policy;
  }
  // Only --init: without it the agent's default applies, as the spec's absent field says.
  if (args.Has("init")) spec.init_process = true;
  auto policy = ParsePullPolicy(args.ValueOr("pull", "if_not_present"));
  if (!policy.ok()) return policy.status();
  auto converted = proto::FromProto(*policy);
  if (!converted.ok()) return converted.status();
  spec.image.pull_policy = *converted;
  return spec;
}

// --name, or the image's name with the first free replica number.
absl::StatusOr<pb::ContainerId> ChooseId(Client& client, const ParsedArgs& args) {
  if (auto name = args.Value("name")) return ParseContainerName(*name);
  pb::ContainerId id;
  id.set_service(ServiceNameForImage(args.args[0]));
  pb::ListContainersRequest request;
  request.set_service(id.service());
  auto existing = ListContainers(client, request);
  if (!existing.ok()) return existing.status();
  uint32_t replica = 1;
  for (const auto& c : *existing) replica = std::max(replica, c.id().replica() + 1);
  id.set_replica(replica);
  return id;
}

// Pulls with progress on stderr (stdout belongs to the container's output), then
// creates the container. Returns the id.
absl::StatusOr<pb::ContainerId> PullAndCreate(Context& ctx) {
  auto spec = SpecFromFlags(ctx.args);
  if (!spec.ok()) return spec.status();
  auto id = ChooseId(ctx.client(), ctx.args);
  if (!id.ok()) return id.status();
  if (spec->image.pull_policy != core::PullPolicy::kNever) {
    pb::PullImageRequest pull;
    pull.set_image(spec->image.name);
    pull.set_policy(proto::ToProto(spec->image.pull_policy));
    auto done = PullWithProgress(ctx.client(), pull, ctx.args.Has("quiet") ? nullptr : stderr);
    if (!done.ok()) return done.status();
  }
  const pb::CreateContainerRequest request =
      proto::ToCreateRequest(ctx.args.ValueOr("deployment", ""), id->service(), id->replica(), *spec);
  if (auto s = CreateContainer(ctx.client(), request); !s.ok()) return s;
  return id;
}

absl::StatusOr<int> Create(Context& ctx) {
  auto id = PullAndCreate(ctx);
  if (!id.ok()) return id.status();
  Out(ContainerName(*id) + "\n");
  return 0;
}

const char* SignalName(int signo) {
  switch (signo) {
    case SIGINT: return "SIGINT";
    case SIGHUP: return "SIGHUP";
    default: return "SIGTERM";
  }
}

absl::StatusOr<int> Run(Context& ctx) {
  const bool detach = ctx.args.Has("detach");
  const bool remove = ctx.args.Has("rm");
  if (detach && remove) {
    return absl::InvalidArgumentError(
        "run: --rm with -d needs the agent to remove the container when it exits, which "
        "this agent version cannot do; run in the foreground, or rm it after `zlayerctl wait`");
  }
  auto id = PullAndCreate(ctx);
  if (!id.ok()) return id.status();
  Client& client = ctx.client();
  if (auto s = StartContainer(client, *id); !s.ok()) {
    if (remove) RemoveContainer(client, *id, true).IgnoreError();
    return s;
  }
  if (detach) {
    Out(ContainerName(*id) + "\n");
    return 0;
  }
  // Foreground: the first Ctrl-C goes to the container; a second one leaves it running.
  std::atomic<bool> forwarded{false};
  const pb::ContainerId target = *id;
  SignalThread::SetHandler([&client, &forwarded, target](int signo) {
    if (forwarded.exchange(true)) return false;
    absl::Status s = KillContainer(client, target, SignalName(signo));
    if (!s.ok()) PrintError(s);
    return true;
  });
  pb::ContainerLogsRequest logs;
  *logs.mutable_id() = *id;
  logs.set_follow(true);
  absl::Status streamed = PrintLogs(client, logs, /*timestamps=*/false, /*json=*/false);
  auto outcome = WaitForOutcome(client, *id);
  SignalThread::SetHandler(nullptr);
  if (remove) {
    if (auto s = RemoveContainer(client, *id, true); !s.ok()) PrintError(s);
  }
  if (!outcome.ok()) return outcome.status();
  if (!streamed.ok()) PrintError(streamed);
  if (outcome->reason() == pb::WAIT_REASON_RUNTIME_ERROR && !outcome->message().empty()) {
    Err(absl::StrCat("zlayerctl: ", ContainerName(*id), ": ", outcome->message(), "\n"));
  }
  return outcome->exit_code();
}

absl::StatusOr<int> Start(Context& ctx) {
  return ForEachName(ctx.args.args, [&](const pb::ContainerId& id) {
    return StartContainer(ctx.client(), id);
  });
}

absl::StatusOr<int> Stop(Context& ctx) {
  auto timeout = StopTimeout(ctx.args);
  if (!timeout.ok()) return timeout.status();
  return ForEachName(ctx.args.args, [&](const pb::ContainerId& id) {
    return StopContainer(ctx.client(), id, *timeout);
  });
}

absl::StatusOr<int> Kill(Context& ctx) {
  const std::string signal = ctx.args.ValueOr("signal", "SIGKILL");
  return ForEachName(ctx.args.args, [&](const pb::ContainerId& id) {
    return KillContainer(ctx.client(), id, signal);
  });
}

absl::StatusOr<int> Rm(Context& ctx) {
  const bool force = ctx.args.Has("force");
  return ForEachName(ctx.args.args, [&](const pb::ContainerId& id) {
    return RemoveContainer(ctx.client(), id, force);
  });
}

std::vector<OptionSpec> CreateOptions() {
  return {
      {"name", 0, "NAME",
       "container name: SERVICE-rep-N, or SERVICE for replica 1 "
       "(default: the image's name and the next free replica)"},
      {"env", 'e', "KEY=VALUE", "set an environment variable (KEY alone copies ours)", true},
      {"label", 'l', "KEY=VALUE", "set a label", true},
      {"workdir", 'w', "DIR", "working directory inside the container"},
      {"user", 'u', "USER", "user[:group] or uid[:gid] to run as"},
      {"entrypoint", 0, "PATH", "replace the image's entrypoint"},
      {"cpus", 0, "N", "CPU limit in cores, e.g. 0.5"},
      {"memory", 'm', "SIZE", "memory limit, e.g. 512Mi or 1Gi"},
      {"pids-limit", 0, "N", "maximum number of processes"},
      {"hostname", 0, "NAME", "the container's hostname"},
      {"network", 0, "NAME", "bridge (default), none, host, or a configured CNI network"},
      {"publish", 'p', "[HOST:]CONTAINER[/udp]",
       "publish a container port on a host port (HOST omitted: the same number)", true},
      {"cap-add", 0, "CAP", "add a capability, e.g. NET_ADMIN", true},
      {"cap-drop", 0, "CAP", "drop a capability (ALL drops every one)", true},
      {"privileged", 0, "", "give the container every capability and device"},
      {"read-only", 0, "", "mount the root filesystem read-only"},
      {"stop-signal", 0, "SIGNAL", "signal that stops the container (default SIGTERM)"},
      {"stop-timeout", 0, "DURATION", "grace period before SIGKILL on stop, e.g. 30s"},
      {"job", 0, "", "a job: runs to completion rather than as a service"},
      {"restart", 0, "POLICY",
       "restart when it ends: no (default), on-failure[:MAX], always or unless-stopped"},
      {"init", 0, "", "run a small init as PID 1 that forwards signals and reaps zombies"},
      {"pull", 0, "POLICY", "if_not_present (default), always or never"},
      {"deployment", 0, "NAME", "deployment the container belongs to"},
      {"quiet", 'q', "", "no pull progress"},
  };
}

}  // namespace

void AddLifecycleCommands(std::vector<Command>* out) {
  Command create{{"create", "[OPTIONS] IMAGE [CMD...]", "Create a container without starting it",
                  "Prints the container's name.", CreateOptions(), 1},
                 Create};
  create.spec.options_end_at_first_arg = true;
  Command run{{"run", "[OPTIONS] IMAGE [CMD...]", "Create and start a container",
               "In the foreground (the default) the container's output is streamed and "
               "zlayerctl exits with the container's exit code; the first Ctrl-C is sent to "
               "the container, a second one leaves it running. With -d the name is printed "
               "and zlayerctl returns at once.",
               CreateOptions(), 1},
              Run};
  run.spec.options_end_at_first_arg = true;
  run.spec.options.push_back({"detach", 'd', "", "start in the background and print the name"});
  run.spec.options.push_back({"rm", 0, "", "remove the container when it exits"});
  Command start{{"start", "NAME...", "Start created containers", "", {}, 1}, Start};
  Command stop{{"stop", "[-t SECONDS] NAME...", "Stop containers: the stop signal, then SIGKILL",
                "Without -t the container's stop_grace_period applies, else 10s.",
                {{"time", 't', "SECONDS", "grace period before SIGKILL (or a duration: 1m30s)"}},
                1},
               Stop};
  Command kill{{"kill", "[-s SIGNAL] NAME...", "Send a signal to containers",
                "Allowed: SIGKILL (default), SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, with or "
                "without SIG, in any case.",
                {{"signal", 's', "SIGNAL", "the signal to send"}}, 1},
               Kill};
  Command rm{{"rm", "[-f] NAME...", "Remove containers", "",
              {{"force", 'f', "", "kill a running container first"}}, 1},
             Rm};
  for (Command* c : {&create, &run, &start, &stop, &kill, &rm}) out->push_back(std::move(*c));
}

}  // namespace zlayer::cli
