// Queries: ps and inspect.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cli/command.h"
#include "cli/format.h"
#include "cli/names.h"
#include "cli/ops.h"
#include "cli/stats_util.h"
#include "deploy/values.h"
#include "nlohmann/json.hpp"

namespace zlayer::cli {
namespace {

// How far apart ps takes its two stats samples for CPU %.
constexpr absl::Duration kDefaultSampleWindow = absl::Milliseconds(500);

// "0.0.0.0:8080->80/tcp, ..." as Docker prints it; "-" when nothing is published.
std::string PortsText(const pb::ContainerSummary& info) {
  std::vector<std::string> ports;
  for (const auto& port : info.ports()) {
    if (port.host_port() == 0) continue;
    ports.push_back(absl::StrCat(port.host_ip().empty() ? "0.0.0.0" : port.host_ip(), ":",
                                 port.host_port(), "->", port.container_port(), "/",
                                 port.protocol()));
  }
  return ports.empty() ? "-" : absl::StrJoin(ports, ", ");
}

absl::StatusOr<int> Ps(Context& ctx) {
  auto json = WantJson(ctx.args);
  if (!json.ok()) return json.status();
  pb::ListContainersRequest request;
  request.set_service(ctx.args.ValueOr("service", ""));
  request.set_deployment(ctx.args.ValueOr("deployment", ""));
  if (!ctx.args.Has("all")) request.set_phase(pb::CONTAINER_PHASE_RUNNING);
  auto containers = ListContainers(ctx.client(), request);
  if (!containers.ok()) return containers.status();
  if (ctx.args.Has("quiet")) {
    for (const auto& c : *containers) Out(ContainerName(c.id()) + "\n");
    return 0;
  }

  // Two samples of every running container, a short window apart, for CPU %.
  std::map<std::string, pb::ContainerStats> first, second;
  const bool any_running = std::any_of(containers->begin(), containers->end(), [](const auto& c) {
    return c.state().phase() == pb::CONTAINER_PHASE_RUNNING;
  });
  if (any_running && !ctx.args.Has("no-stats")) {
    absl::Duration window = kDefaultSampleWindow;
    if (auto w = ctx.args.Value("sample")) {
      auto d = deploy::ParseSpecDuration(*w);
      if (!d.ok()) return absl::InvalidArgumentError(absl::StrCat("--sample: ", d.status().message()));
      window = *d;
    }
    auto earlier = SampleRunning(ctx.client(), request.service(), request.deployment());
    if (!earlier.ok()) return earlier.status();
    absl::SleepFor(window);
    auto later = SampleRunning(ctx.client(), request.service(), request.deployment());
    if (!later.ok()) return later.status();
    first = std::move(*earlier);
    second = std::move(*later);
  }
  auto cpu = [&](const std::string& name) -> std::optional<double> {
    auto before = first.find(name);
    auto after = second.find(name);
    if (before == first.end() || after == second.end()) return std::nullopt;
    return CpuPercent(before->second, after->second);
  };

  const absl::Time now = absl::Now();
  if (*json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& c : *containers) {
      const std::string name = ContainerName(c.id());
      nlohmann::json item = nlohmann::json::parse(ToJson(c));
      if (auto it = second.find(name); it != second.end()) {
        item["stats"] = nlohmann::json::parse(ToJson(it->second));
      }
      if (auto p = cpu(name)) item["cpu_percent"] = *p;
      out.push_back(std::move(item));
    }
    Out(out.dump() + "\n");
    return 0;
  }
  Table table({"NAME", "IMAGE", "STATE", "RESTARTS", "UPTIME", "CPU %", "MEMORY", "PORTS"});
  for (const auto& c : *containers) {
    const std::string name = ContainerName(c.id());
    const bool running = c.state().phase() == pb::CONTAINER_PHASE_RUNNING;
    const auto stats = second.find(name);
    std::optional<absl::Time> restart_at;
    if (c.has_next_restart_at()) restart_at = ToTime(c.next_restart_at());
    table.AddRow({name, c.image(), StateText(c.state(), restart_at, now),
                  absl::StrCat(c.restart_count()),
                  running && c.has_started_at() ? HumanDuration(now - ToTime(c.started_at())) : "-",
                  running ? CpuText(cpu(name)) : "-",
                  stats != second.end() ? MemoryText(stats->second) : "-", PortsText(c)});
  }
  Out(table.ToString());
  return 0;
}

std::string SpecSummary(const pb::ServiceSpec& spec) {
  std::vector<std::string> parts;
  if (spec.command().entrypoint_size() > 0) {
    parts.push_back(absl::StrCat("entrypoint=[", absl::StrJoin(spec.command().entrypoint(), " "), "]"));
  }
  if (spec.command().args_size() > 0) {
    parts.push_back(absl::StrCat("args=[", absl::StrJoin(spec.command().args(), " "), "]"));
  }
  if (spec.resources().has_cpu()) parts.push_back(absl::StrCat("cpu=", spec.resources().cpu()));
  if (spec.resources().has_memory_bytes()) {
    parts.push_back(absl::StrCat("memory=", HumanBytes(spec.resources().memory_bytes())));
  }
  return parts.empty() ? "-" : absl::StrJoin(parts, " ");
}

// "db (wait_tcp 10.0.0.5:5432), init[1] (run)": what runs before the process.
std::string InitSummary(const pb::ServiceSpec& spec) {
  std::vector<std::string> steps;
  for (int i = 0; i < spec.init_size(); ++i) {
    const pb::InitAction& step = spec.init(i);
    std::string what;
    switch (step.action_case()) {
      case pb::InitAction::kWaitTcp:
        what = absl::StrCat("wait_tcp ",
                            step.wait_tcp().host().empty() ? "127.0.0.1" : step.wait_tcp().host(),
                            ":", step.wait_tcp().port());
        break;
      case pb::InitAction::kWaitHttp:
        what = absl::StrCat("wait_http ", step.wait_http().url());
        break;
      case pb::InitAction::kRun:
        what = "run";
        break;
      default:
        what = "?";
        break;
    }
    steps.push_back(absl::StrCat(step.name().empty() ? absl::StrCat("init[", i, "]") : step.name(),
                                 " (", what, ")"));
  }
  return absl::StrJoin(steps, ", ");
}

// The restart policy's rows: the policy and its count, what is due, and why not.
void AddSupervisionRows(const pb::Supervision& s, absl::Time now,
                        std::vector<std::pair<std::string, std::string>>* rows) {
  rows->push_back({"Restart", absl::StrCat(s.policy(), ", ", s.restart_count(),
                                           s.restart_count() == 1 ? " restart" : " restarts")});
  if (s.has_next_restart_at()) {
    rows->push_back(
        {"Next start", absl::StrCat(FormatTime(s.next_restart_at()), " (in ",
                                    HumanDuration(ToTime(s.next_restart_at()) - now), ")")});
  }
  if (!s.not_restarting().empty()) rows->push_back({"No restart", s.not_restarting()});
  for (const auto& h : s.history()) {
    const auto& o = h.outcome();
    rows->push_back(
        {"Ended", absl::StrCat(FormatTime(o.finished_at()), " ", o.exit_code(), " ",
                               WaitReasonText(o.reason()),
                               o.has_signal() ? absl::StrCat(" ", o.signal()) : "",
                               h.cause() == "exited" ? "" : absl::StrCat(" (", h.cause(), ")"),
                               h.restarted() ? ", restarted" : "")});
  }
}

std::string InfoText(const pb::ContainerInfo& info) {
  std::vector<std::pair<std::string, std::string>> rows = {
      {"Name", info.name().empty() ? ContainerName(info.id()) : info.name()},
      {"Deployment", info.deployment().empty() ? "-" : info.deployment()},
      {"Image", absl::StrCat(info.image(), info.image_digest().empty()
                                               ? ""
                                               : absl::StrCat(" (", info.image_digest(), ")"))},
      {"State", StateText(info.state())},
      {"PID", info.has_pid() ? absl::StrCat(info.pid()) : "-"},
      {"IP", info.has_ip() ? info.ip() : "-"},
      {"Created", FormatTime(info.created_at())},
      {"Started", FormatTime(info.started_at())},
  };
  if (info.has_outcome()) {
    const auto& o = info.outcome();
    rows.push_back({"Outcome", absl::StrCat(o.exit_code(), " ", WaitReasonText(o.reason()),
                                            o.has_signal() ? absl::StrCat(" ", o.signal()) : "",
                                            " at ", FormatTime(o.finished_at()),
                                            o.message().empty() ? "" : absl::StrCat(": ", o.message()))});
  }
  if (info.has_health()) rows.push_back({"Health", info.health().status()});
  if (info.has_supervision()) AddSupervisionRows(info.supervision(), absl::Now(), &rows);
  std::vector<std::string> ports;
  for (const auto& p : info.ports()) {
    ports.push_back(absl::StrCat(p.host_ip().empty() ? "" : p.host_ip() + ":", p.host_port(), "->",
                                 p.container_port(), "/", p.protocol()));
  }
  if (!ports.empty()) rows.push_back({"Ports", absl::StrJoin(ports, ", ")});
  for (const auto& n : info.networks()) {
    rows.push_back({"Network", absl::StrCat(n.network(), n.has_ipv4() ? " " + n.ipv4() : "",
                                            n.aliases_size() ? absl::StrCat(" aliases=", absl::StrJoin(n.aliases(), ",")) : "")});
  }
  rows.push_back({"Command", SpecSummary(info.spec())});
  if (info.spec().init_size() > 0) rows.push_back({"Init", InitSummary(info.spec())});
  std::vector<std::string> labels;
  for (const auto& [k, v] : std::map<std::string, std::string>(info.labels().begin(), info.labels().end())) {
    labels.push_back(absl::StrCat(k, "=", v));
  }
  if (!labels.empty()) rows.push_back({"Labels", absl::StrJoin(labels, ", ")});
  for (const auto& [k, v] :
       std::map<std::string, std::string>(info.annotations().begin(), info.annotations().end())) {
    rows.push_back({k, v});
  }
  std::string out;
  for (const auto& [k, v] : rows) out += absl::StrFormat("%-12s %s\n", k + ":", v);
  return out;
}

absl::StatusOr<int> Inspect(Context& ctx) {
  auto json = WantJson(ctx.args);
  if (!json.ok()) return json.status();
  auto ids = ParseNames(ctx.args.args);
  if (!ids.ok()) return ids.status();
  std::vector<pb::ContainerInfo> infos;
  for (const auto& id : *ids) {
    auto info = InspectContainer(ctx.client(), id);
    if (!info.ok()) return info.status();
    infos.push_back(*std::move(info));
  }
  if (*json) {
    std::string out = "[";
    for (size_t i = 0; i < infos.size(); ++i) absl::StrAppend(&out, i ? "," : "", ToJson(infos[i]));
    Out(out + "]\n");
    return 0;
  }
  for (size_t i = 0; i < infos.size(); ++i) Out(absl::StrCat(i ? "\n" : "", InfoText(infos[i])));
  return 0;
}

}  // namespace

void AddQueryCommands(std::vector<Command>* out) {
  Command ps{{"ps", "[OPTIONS]", "List containers",
              "Shows running containers (all with -a): name, image, state, restarts, uptime, "
              "CPU % and memory. RESTARTS counts the restart policy's restarts since the last "
              "start; CPU % comes from two stats samples --sample apart; 100% is one core.",
              {{"all", 'a', "", "show every container, not only running ones"},
               {"quiet", 'q', "", "print only names"},
               {"service", 0, "NAME", "only this service's replicas"},
               {"deployment", 0, "NAME", "only this deployment's containers"},
               {"sample", 0, "DURATION", "window between the two CPU samples (default 500ms)"},
               {"no-stats", 0, "", "skip CPU and memory (no sampling delay)"}},
              0, 0},
             Ps};
  AddOutputOption(&ps.spec);
  Command inspect{{"inspect", "[OPTIONS] NAME...", "Show everything known about containers",
                   "-o json prints a JSON array of ContainerInfo objects.", {}, 1},
                  Inspect};
  AddOutputOption(&inspect.spec);
  for (Command* c : {&ps, &inspect}) out->push_back(std::move(*c));
}

}  // namespace zlayer::cli
