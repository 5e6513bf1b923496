// Output and processes: logs, exec, wait.
#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/time_util.h"
#include "cli/command.h"
#include "cli/format.h"
#include "cli/names.h"
#include "cli/ops.h"
#include "deploy/values.h"
#include "proto/convert/convert.h"

namespace zlayer::cli {

absl::Status PrintLogs(Client& client, const pb::ContainerLogsRequest& request, bool timestamps,
                       bool json) {
  auto ctx = client.Stream();
  auto reader = client.stub().ContainerLogs(ctx.get(), request);
  pb::LogEntry entry;
  while (reader->Read(&entry)) {
    if (json) {
      Out(ToJson(entry) + "\n");
      continue;
    }
    std::string line;
    if (timestamps) {
      absl::StrAppend(&line, base::FormatRfc3339Nano(ToTime(entry.timestamp())), " ");
    }
    // A partial entry is one piece of a long line that continues in the next entry.
    absl::StrAppend(&line, entry.message(), entry.partial() ? "" : "\n");
    if (entry.stream() == pb::LOG_STREAM_STDERR) {
      Err(line);
    } else {
      Out(line);
    }
  }
  return client.Error(reader->Finish());
}

namespace {

absl::StatusOr<int> Logs(Context& ctx) {
  auto json = WantJson(ctx.args);
  if (!json.ok()) return json.status();
  auto id = ParseContainerName(ctx.args.args[0]);
  if (!id.ok()) return id.status();
  pb::ContainerLogsRequest request;
  *request.mutable_id() = *id;
  request.set_follow(ctx.args.Has("follow"));
  if (auto tail = ctx.args.Value("tail"); tail && *tail != "all") {
    uint32_t n = 0;
    if (!absl::SimpleAtoi(*tail, &n)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--tail: expected a number of lines or all, got \"", *tail, "\""));
    }
    // The API's tail 0 means all; --tail 0 means none, as in docker: with -f, only
    // lines from now on.
    if (n == 0 && !request.follow()) return 0;
    if (n == 0) *request.mutable_since() = proto::ToProto(absl::Now());
    request.set_tail(n);
  }
  if (auto since = ctx.args.Value("since")) {
    auto at = base::ParseRfc3339(*since);
    if (!at.ok()) {
      auto ago = deploy::ParseSpecDuration(*since);
      if (!ago.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--since: expected a time (2026-11-30T03:21:08Z) or a duration ago (10m), got \"",
            *since, "\""));
      }
      at = absl::Now() - *ago;
    }
    *request.mutable_since() = proto::ToProto(*at);
  }
  if (auto s = PrintLogs(ctx.client(), request, ctx.args.Has("timestamps"), *json); !s.ok()) {
    return s;
  }
  return 0;
}

absl::StatusOr<int> Exec(Context& ctx) {
  auto id = ParseContainerName(ctx.args.args[0]);
  if (!id.ok()) return id.status();
  pb::ExecRequest request;
  *request.mutable_id() = *id;
  for (size_t i = 1; i < ctx.args.args.size(); ++i) request.add_command(ctx.args.args[i]);
  for (const auto& item : ctx.args.Values("env")) {
    const size_t eq = item.find('=');
    if (eq == 0 || eq == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("-e/--env: expected KEY=VALUE, got \"", item, "\""));
    }
    (*request.mutable_env())[item.substr(0, eq)] = item.substr(eq + 1);
  }
  request.set_workdir(ctx.args.ValueOr("workdir", ""));
  request.set_user(ctx.args.ValueOr("user", ""));
  if (auto t = ctx.args.Value("timeout")) {
    auto d = deploy::ParseSpecDuration(*t);
    if (!d.ok()) return absl::InvalidArgumentError(absl::StrCat("--timeout: ", d.status().message()));
    *request.mutable_timeout() = proto::ToProto(*d);
  }
  auto call = ctx.client().Stream();
  auto reader = ctx.client().stub().ExecStream(call.get(), request);
  pb::ExecEvent event;
  std::optional<int> exit_code;
  while (reader->Read(&event)) {
    switch (event.event_case()) {
      case pb::ExecEvent::kStdout: Out(event.stdout()); break;
      case pb::ExecEvent::kStderr: Err(event.stderr()); break;
      case pb::ExecEvent::kExitCode: exit_code = event.exit_code(); break;
      default: break;
    }
  }
  absl::Status status = ctx.client().Error(reader->Finish());
  if (!exit_code) {
    if (!status.ok()) return status;
    return absl::InternalError("exec: the agent ended the stream without an exit code");
  }
  // Ended abnormally after the process ran (e.g. the server-side timeout): say so, but
  // the process's code is still the answer.
  if (!status.ok()) PrintError(status);
  return *exit_code;
}

absl::StatusOr<int> Wait(Context& ctx) {
  auto json = WantJson(ctx.args);
  if (!json.ok()) return json.status();
  auto id = ParseContainerName(ctx.args.args[0]);
  if (!id.ok()) return id.status();
  auto outcome = WaitForOutcome(ctx.client(), *id);
  if (!outcome.ok()) return outcome.status();
  if (*json) {
    Out(ToJson(*outcome) + "\n");
  } else {
    // One line, three fields, so that `read code reason signal` works in scripts.
    Out(absl::StrCat(outcome->exit_code(), " ", WaitReasonText(outcome->reason()), " ",
                     outcome->has_signal() ? outcome->signal() : "-", "\n"));
    if (!outcome->message().empty()) Err(absl::StrCat(outcome->message(), "\n"));
  }
  return outcome->exit_code();
}

}  // namespace

void AddIoCommands(std::vector<Command>* out) {
  Command logs{{"logs", "[OPTIONS] NAME", "Print a container's log",
                "stdout lines go to stdout and stderr lines to stderr.",
                {{"follow", 'f', "", "keep printing new lines until the container exits"},
                 {"tail", 'n', "N", "only the last N lines (all = every line)"},
                 {"timestamps", 't', "", "prefix each line with its RFC 3339 time"},
                 {"since", 0, "TIME", "only lines since a time (RFC 3339) or a duration ago (10m)"}},
                1, 1},
               Logs};
  AddOutputOption(&logs.spec);
  logs.spec.options.back().help = "table (plain lines, the default) or json (one entry per line)";
  Command exec{{"exec", "[OPTIONS] NAME -- CMD [ARGS...]", "Run a command in a running container",
                "Output is streamed as it is produced; zlayerctl exits with the command's exit "
                "code (1 when the command could not be run at all).",
                {{"env", 'e', "KEY=VALUE", "set an environment variable", true},
                 {"workdir", 'w', "DIR", "working directory"},
                 {"user", 'u', "USER", "user[:group] to run as"},
                 {"timeout", 0, "DURATION", "kill the command after this long, e.g. 30s"}},
                2},
               Exec};
  exec.spec.options_end_at_first_arg = true;
  Command wait{{"wait", "NAME", "Wait for a container to exit",
                "Prints \"CODE REASON SIGNAL\" (e.g. \"137 signal SIGKILL\", \"0 exited -\"); "
                "REASON is exited, signal, oom_killed or runtime_error. Exits with CODE.",
                {}, 1, 1},
               Wait};
  AddOutputOption(&wait.spec);
  for (Command* c : {&logs, &exec, &wait}) out->push_back(std::move(*c));
}

}  // namespace zlayer::cli
