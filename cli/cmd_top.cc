// top: a live, sorted table of every container and its resource use, as htop and
// `docker stats` users expect; one plain table when stdout is not a terminal.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "cli/command.h"
#include "cli/format.h"
#include "cli/ops.h"
#include "cli/stats_util.h"
#include "cli/terminal.h"
#include "deploy/values.h"

namespace zlayer::cli {
namespace {

// CPU % needs two samples; the first screen comes this soon after the first one
// instead of a whole --interval later.
constexpr absl::Duration kFirstSampleWindow = absl::Milliseconds(500);
constexpr char kCtrlC = 0x03;  // arrives as a byte only when someone turned ISIG off

enum class SortKey { kCpu, kMemory, kName, kPids };

const char* SortName(SortKey key) {
  switch (key) {
    case SortKey::kCpu:
      return "cpu";
    case SortKey::kMemory:
      return "memory";
    case SortKey::kName:
      return "name";
    case SortKey::kPids:
      return "pids";
  }
  return "cpu";
}

std::optional<SortKey> SortForKey(char key) {
  switch (key) {
    case 'c':
      return SortKey::kCpu;
    case 'm':
      return SortKey::kMemory;
    case 'n':
      return SortKey::kName;
    case 'p':
      return SortKey::kPids;
    default:
      return std::nullopt;
  }
}

struct TopOptions {
  absl::Duration interval = absl::Seconds(2);
  int64_t iterations = 0;  // 0 = until q
  std::string service;
  std::string deployment;
};

// One refresh from the agent: every container, and stats of the running ones.
struct Snapshot {
  absl::Time taken;
  std::vector<pb::ContainerSummary> containers;
  std::map<std::string, pb::ContainerStats> stats;  // by name
};

absl::StatusOr<Snapshot> TakeSnapshot(Client& client, const TopOptions& options) {
  pb::ListContainersRequest request;
  request.set_service(options.service);
  request.set_deployment(options.deployment);
  Snapshot out;
  auto containers = ListContainers(client, request);
  if (!containers.ok()) return containers.status();
  out.containers = *std::move(containers);
  auto stats = SampleRunning(client, options.service, options.deployment);
  if (!stats.ok()) return stats.status();
  out.stats = *std::move(stats);
  out.taken = absl::Now();
  return out;
}

struct Row {
  std::string name;
  const pb::ContainerSummary* summary;
  const pb::ContainerStats* stats;  // null: not running, or not sampled this time
  std::optional<double> cpu;
};

// Sorted rows; whatever cannot be measured goes last, and name order breaks ties so
// that equal rows do not swap places between refreshes.
std::vector<Row> SortedRows(const Snapshot& now,
                            const std::map<std::string, pb::ContainerStats>& before, SortKey key) {
  std::vector<Row> rows;
  for (const auto& c : now.containers) {
    Row row{ContainerName(c.id()), &c, nullptr, std::nullopt};
    if (c.state().phase() == pb::CONTAINER_PHASE_RUNNING) {
      if (auto it = now.stats.find(row.name); it != now.stats.end()) {
        row.stats = &it->second;
        if (auto b = before.find(row.name); b != before.end())
          row.cpu = CpuPercent(b->second, it->second);
      }
    }
    rows.push_back(std::move(row));
  }
  auto by_name = [](const Row& a, const Row& b) {
    const auto& x = a.summary->id();
    const auto& y = b.summary->id();
    if (x.service() != y.service()) return x.service() < y.service();
    return x.replica() < y.replica();  // web-rep-2 before web-rep-10
  };
  // -1 sorts below every measured value.
  auto value = [key](const Row& r) -> double {
    switch (key) {
      case SortKey::kCpu:
        return r.cpu ? *r.cpu : -1;
      case SortKey::kMemory:
        return r.stats ? static_cast<double>(r.stats->memory_bytes()) : -1;
      case SortKey::kPids:
        return r.stats && r.stats->has_pids_current() ? static_cast<double>(r.stats->pids_current())
                                                      : -1;
      case SortKey::kName:
        return 0;
    }
    return 0;
  };
  std::sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
    const double va = value(a), vb = value(b);
    if (va != vb) return va > vb;
    return by_name(a, b);
  });
  return rows;
}

// A failure reason can be a sentence; it would push every resource column aside.
std::string ShortState(const pb::ContainerState& state) {
  return state.phase() == pb::CONTAINER_PHASE_FAILED ? "failed" : StateText(state);
}

// The plain table: header first, no escape codes.
std::string TableText(const std::vector<Row>& rows, absl::Time now) {
  Table table({"NAME", "STATE", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS", "UPTIME", "IMAGE"});
  for (const auto& r : rows) {
    const pb::ContainerStats* s = r.stats;
    const bool running = r.summary->state().phase() == pb::CONTAINER_PHASE_RUNNING;
    std::string mem_percent = "-";
    if (s && s->memory_limit()) {
      mem_percent = absl::StrFormat("%.1f%%", 100.0 * static_cast<double>(s->memory_bytes()) /
                                                  static_cast<double>(s->memory_limit()));
    }
    table.AddRow({r.name, ShortState(r.summary->state()), s ? CpuText(r.cpu) : "-",
                  s ? MemoryText(*s) : "-", mem_percent,
                  s && s->has_pids_current() ? absl::StrCat(s->pids_current()) : "-",
                  running && r.summary->has_started_at()
                      ? HumanDuration(now - ToTime(r.summary->started_at()))
                      : "-",
                  r.summary->image().empty() ? "-" : r.summary->image()});
  }
  return table.ToString();
}

std::string Clip(absl::string_view line, int cols) {
  return std::string(line.substr(0, static_cast<size_t>(std::max(cols, 0))));
}

// The whole screen, drawn over the last one line by line (clearing each line first)
// rather than after a full clear, which flickers. Nothing is written past the last
// row or column, so the terminal never scrolls.
std::string Screen(const Snapshot& shown, const std::vector<Row>& rows, const std::string& table,
                   SortKey sort, const std::string& address, absl::Duration interval,
                   TerminalSize size) {
  const auto running = std::count_if(rows.begin(), rows.end(), [](const Row& r) {
    return r.summary->state().phase() == pb::CONTAINER_PHASE_RUNNING;
  });
  std::vector<std::string> lines = {
      absl::StrCat("zlayerctl top - ",
                   absl::FormatTime("%H:%M:%S", shown.taken, absl::LocalTimeZone()), "   ",
                   rows.size(), rows.size() == 1 ? " container, " : " containers, ", running,
                   " running   sort: ", SortName(sort), "   agent: ", address),
      absl::StrCat("q quit   c cpu   m memory   n name   p pids   refresh every ",
                   absl::FormatDuration(interval)),
  };
  std::vector<std::string> table_lines = absl::StrSplit(table, '\n', absl::SkipEmpty());
  const size_t header_index = lines.size();
  const size_t room = static_cast<size_t>(std::max(size.rows, 1));
  for (size_t i = 0; i < table_lines.size(); ++i) {
    const size_t left = table_lines.size() - i;
    if (lines.size() + 1 == room && left > 1) {
      lines.push_back(absl::StrCat("... ", left, " more (a taller window shows them)"));
      break;
    }
    if (lines.size() >= room) break;
    lines.push_back(table_lines[i]);
  }
  if (lines.size() > room) lines.resize(room);

  std::string out = "\x1b[H";
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string line = Clip(lines[i], size.cols);
    if (i == header_index) {
      // The column header in reverse video, across the whole width.
      line.append(static_cast<size_t>(std::max(size.cols, 0)) - line.size(), ' ');
      absl::StrAppend(&out, "\x1b[2K\x1b[7m", line, "\x1b[0m");
    } else {
      absl::StrAppend(&out, "\x1b[2K", line);
    }
    if (i + 1 < lines.size()) absl::StrAppend(&out, "\r\n");
  }
  // Clears what an earlier, longer frame left below; only when the cursor is not on
  // the last row, where it may sit in the last column and erase that cell.
  if (lines.size() < room) absl::StrAppend(&out, "\r\n\x1b[J");
  return out;
}

// stdout is not a terminal: tables only, like `top -b`. One unless -n says otherwise.
// A refresh failed after the first one worked: most likely the agent went away. Its
// shutdown cancels calls in flight, and zlayerctl cancels none itself, so CANCELLED
// says UNAVAILABLE here.
absl::Status RefreshError(const absl::Status& s, const std::string& address) {
  const bool gone = s.code() == absl::StatusCode::kCancelled || absl::IsUnavailable(s);
  return absl::Status(gone ? absl::StatusCode::kUnavailable : s.code(),
                      absl::StrCat("top: ", gone ? "lost the agent at " : "refreshing from ",
                                   address, ": ", s.message()));
}

absl::StatusOr<int> RunBatch(Client& client, const TopOptions& options) {
  auto previous = TakeSnapshot(client, options);
  if (!previous.ok()) return previous.status();
  const int64_t count = options.iterations;  // already 1 when -n was not given
  absl::SleepFor(std::min(options.interval, kFirstSampleWindow));
  for (int64_t i = 0; count == 0 || i < count; ++i) {
    if (i > 0) absl::SleepFor(options.interval);
    auto now = TakeSnapshot(client, options);
    if (!now.ok()) return RefreshError(now.status(), client.address());
    const std::string table =
        TableText(SortedRows(*now, previous->stats, SortKey::kCpu), now->taken);
    Out(i > 0 ? absl::StrCat("\n", table) : table);
    previous = std::move(now);
  }
  return 0;
}

absl::StatusOr<int> RunInteractive(Client& client, const TopOptions& options) {
  // Before the screen changes: an agent that is not there is one line on the
  // normal screen, with nothing flashed first.
  auto first = TakeSnapshot(client, options);
  if (!first.ok()) return first.status();
  auto term = RawTerminal::Create(STDIN_FILENO, STDOUT_FILENO);
  if (!term.ok()) return term.status();

  std::map<std::string, pb::ContainerStats> before = std::move(first->stats);
  std::optional<Snapshot> shown;
  SortKey sort = SortKey::kCpu;
  int64_t frames = 0;
  std::string table;
  absl::Time next = absl::Now() + std::min(options.interval, kFirstSampleWindow);
  auto draw = [&]() -> absl::Status {
    const auto rows = SortedRows(*shown, before, sort);
    table = TableText(rows, shown->taken);
    return (*term)->Write(
        Screen(*shown, rows, table, sort, client.address(), options.interval, (*term)->Size()));
  };
  for (;;) {
    auto event = (*term)->Wait(next);
    if (!event.ok()) return event.status();
    switch (event->kind) {
      case TerminalEvent::kTimeout: {
        auto now = TakeSnapshot(client, options);
        // Returning restores the terminal (RawTerminal's destructor) before main
        // prints the error.
        if (!now.ok()) return RefreshError(now.status(), client.address());
        if (shown) before = std::move(shown->stats);
        shown = *std::move(now);
        if (auto s = draw(); !s.ok()) return s;
        if (options.iterations > 0 && ++frames >= options.iterations) {
          // The last table stays on the normal screen, for a script's log.
          (*term)->Restore();
          Out(table);
          return 0;
        }
        next = absl::Now() + options.interval;
        break;
      }
      case TerminalEvent::kKey:
        if (event->key == 'q') return 0;
        if (event->key == kCtrlC) return 128 + SIGINT;
        if (auto key = SortForKey(event->key)) {
          sort = *key;
          if (shown) {
            if (auto s = draw(); !s.ok()) return s;
          }
        }
        break;
      case TerminalEvent::kResize:
        if (shown) {
          if (auto s = draw(); !s.ok()) return s;
        }
        break;
      case TerminalEvent::kSignal:
        // The exit code a signal would have given, as for every other command.
        return 128 + event->signal;
      case TerminalEvent::kClosed:
        return 0;
    }
  }
}

absl::StatusOr<int> Top(Context& ctx) {
  TopOptions options;
  options.service = ctx.args.ValueOr("service", "");
  options.deployment = ctx.args.ValueOr("deployment", "");
  if (auto i = ctx.args.Value("interval")) {
    auto d = deploy::ParseSpecDuration(*i);
    if (!d.ok() || *d < absl::Milliseconds(100)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--interval: expected a duration of at least 100ms, got \"", *i, "\""));
    }
    options.interval = *d;
  }
  const bool tty = ::isatty(STDOUT_FILENO);
  options.iterations = tty ? 0 : 1;
  if (auto n = ctx.args.Value("iterations")) {
    if (!absl::SimpleAtoi(*n, &options.iterations) || options.iterations < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "-n/--iterations: expected a number of refreshes (0 = forever), got \"", *n, "\""));
    }
  }
  return tty ? RunInteractive(ctx.client(), options) : RunBatch(ctx.client(), options);
}

}  // namespace

void AddTopCommands(std::vector<Command>* out) {
  out->push_back(
      {{"top",
        "[OPTIONS]",
        "Show a live, sorted table of all containers",
        "Every container, running or not (resource columns show - for the others), "
        "refreshed in place on the terminal's alternate screen. Keys: q quits; c, m, n, p "
        "sort by CPU (the default), memory, name or pids. CPU % is measured between two "
        "samples; 100% is one core. When stdout is not a terminal it prints one plain "
        "table and exits (-n for more).",
        {{"interval", 0, "DURATION", "time between refreshes (default 2s)"},
         {"iterations", 'n', "N",
          "stop after N refreshes (0 = never; default 1 without a terminal)"},
         {"service", 0, "NAME", "only this service's replicas"},
         {"deployment", 0, "NAME", "only this deployment's containers"}},
        0,
        0},
       Top});
}

}  // namespace zlayer::cli
