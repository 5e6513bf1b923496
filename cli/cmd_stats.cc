// stats: live resource usage, refreshed like `docker stats`.
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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

// One sample of every container asked for: the named ones, or all running ones.
// A named container that cannot be sampled (it exited, or was removed) is left out;
// when none can be, the first error is returned.
absl::StatusOr<std::map<std::string, pb::ContainerStats>> Sample(
    Client& client, const std::vector<pb::ContainerId>& ids) {
  if (ids.empty()) return SampleRunning(client, "", "");
  std::map<std::string, pb::ContainerStats> out;
  absl::Status first_error;
  for (const auto& id : ids) {
    auto ctx = client.Call();
    pb::GetStatsRequest request;
    *request.mutable_id() = id;
    pb::ContainerStats stats;
    absl::Status s = client.Error(client.stub().GetStats(ctx.get(), request, &stats));
    if (s.ok()) {
      out[ContainerName(id)] = stats;
    } else if (first_error.ok()) {
      first_error = s;
    }
  }
  if (out.empty() && !first_error.ok()) return first_error;
  return out;
}

std::string Render(const std::map<std::string, pb::ContainerStats>& previous,
                   const std::map<std::string, pb::ContainerStats>& current, bool json) {
  auto cpu = [&](const std::string& name, const pb::ContainerStats& now) -> std::optional<double> {
    auto it = previous.find(name);
    return it == previous.end() ? std::nullopt : CpuPercent(it->second, now);
  };
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [name, stats] : current) {
      nlohmann::json item = nlohmann::json::parse(ToJson(stats));
      item["name"] = name;
      if (auto p = cpu(name, stats)) item["cpu_percent"] = *p;
      out.push_back(std::move(item));
    }
    return out.dump() + "\n";
  }
  Table table({"NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS"});
  for (const auto& [name, stats] : current) {
    const std::string mem_percent =
        stats.memory_limit() ? absl::StrFormat("%.1f%%", 100.0 * static_cast<double>(stats.memory_bytes()) /
                                                            static_cast<double>(stats.memory_limit()))
                             : "-";
    table.AddRow({name, CpuText(cpu(name, stats)), MemoryText(stats), mem_percent,
                  stats.has_pids_current() ? absl::StrCat(stats.pids_current()) : "-"});
  }
  return table.ToString();
}

absl::StatusOr<int> Stats(Context& ctx) {
  auto json = WantJson(ctx.args);
  if (!json.ok()) return json.status();
  auto ids = ParseNames(ctx.args.args);
  if (!ids.ok()) return ids.status();
  absl::Duration interval = absl::Seconds(1);
  if (auto i = ctx.args.Value("interval")) {
    auto d = deploy::ParseSpecDuration(*i);
    if (!d.ok() || *d < absl::Milliseconds(100)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--interval: expected a duration of at least 100ms, got \"", *i, "\""));
    }
    interval = *d;
  }
  const bool once = ctx.args.Has("no-stream");
  const bool tty = ::isatty(STDOUT_FILENO) && !*json;
  auto previous = Sample(ctx.client(), *ids);
  if (!previous.ok()) return previous.status();
  // With --no-stream the two samples behind CPU % need not be a full interval apart.
  absl::SleepFor(once ? std::min(interval, absl::Milliseconds(500)) : interval);
  for (int frame = 0;; ++frame) {
    auto current = Sample(ctx.client(), *ids);
    if (!current.ok()) return current.status();
    std::string text = Render(*previous, *current, *json);
    if (tty && !once) {
      text = absl::StrCat("\033[H\033[J", text);  // home, clear: redraw in place
    } else if (!*json && !once && frame > 0) {
      text = absl::StrCat("\n", text);
    }
    Out(text);
    if (once) return 0;
    previous = std::move(current);
    absl::SleepFor(interval);
  }
}

}  // namespace

void AddStatsCommands(std::vector<Command>* out) {
  Command stats{{"stats", "[OPTIONS] [NAME...]", "Show live resource usage",
                 "Without names, every running container. Redraws in place on a terminal and "
                 "prints a table per interval otherwise; Ctrl-C ends it. CPU % is measured "
                 "between two samples; 100% is one core.",
                 {{"no-stream", 0, "", "print one table and exit"},
                  {"interval", 0, "DURATION", "time between refreshes (default 1s)"}}},
                Stats};
  AddOutputOption(&stats.spec);
  out->push_back(std::move(stats));
}

}  // namespace zlayer::cli
