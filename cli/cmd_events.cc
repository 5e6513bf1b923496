// events: the node's event history, then new events as they happen.
#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/time_util.h"
#include "cli/command.h"
#include "cli/format.h"
#include "cli/names.h"
#include "deploy/values.h"
#include "proto/convert/convert.h"

namespace zlayer::cli {
namespace {

// "container_exited" for EVENT_KIND_CONTAINER_EXITED: the names the filter takes.
std::string KindText(pb::EventKind kind) {
  auto core_kind = proto::EventKindFromProto(kind);
  return core_kind ? core::EventKindName(*core_kind) : "unknown";
}

std::string Detail(const pb::Event& event) {
  if (event.has_outcome()) {
    const auto& o = event.outcome();
    std::string out =
        absl::StrCat("exit_code=", o.exit_code(), " reason=", WaitReasonText(o.reason()));
    if (o.has_signal()) absl::StrAppend(&out, " signal=", o.signal());
    if (!o.message().empty()) absl::StrAppend(&out, " message=\"", o.message(), "\"");
    return out;
  }
  if (event.has_state() && !event.state().reason().empty()) {
    return absl::StrCat("reason=\"", event.state().reason(), "\"");
  }
  if (!event.message().empty()) return event.message();
  return event.image();
}

absl::Status ApplyFilter(const std::string& filter, pb::EventsRequest* request) {
  const size_t eq = filter.find('=');
  const std::string key = filter.substr(0, eq);
  const std::string value = eq == std::string::npos ? "" : filter.substr(eq + 1);
  if (eq == std::string::npos || value.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--filter: expected KEY=VALUE (container, service, deployment, kind), got \"",
                     filter, "\""));
  }
  if (key == "container") {
    auto id = ParseContainerName(value);
    if (!id.ok()) return id.status();
    *request->add_containers() = *id;
  } else if (key == "service") {
    request->set_service(value);
  } else if (key == "deployment") {
    request->set_deployment(value);
  } else if (key == "kind") {
    auto kind = core::EventKindFromName(value);
    if (!kind) {
      return absl::InvalidArgumentError(
          absl::StrCat("--filter kind=", value, ": unknown; kinds are ", core::EventKindNames()));
    }
    request->add_kinds(proto::ToProto(*kind));
  } else {
    return absl::InvalidArgumentError(absl::StrCat("--filter: unknown key \"", key,
                                                   "\" (container, service, deployment or kind)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> Events(Context& ctx) {
  auto json = WantJson(ctx.args);
  if (!json.ok()) return json.status();
  pb::EventsRequest request;
  // A duration replays the journal and drops what is older, here.
  std::optional<absl::Time> not_before;
  if (auto since = ctx.args.Value("since")) {
    uint64_t sequence = 0;
    if (absl::SimpleAtoi(*since, &sequence)) {
      request.set_since_sequence(sequence);
    } else {
      auto ago = deploy::ParseSpecDuration(*since);
      if (!ago.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--since: expected a sequence number (1234) or a duration ago (10m), got \"", *since,
            "\""));
      }
      request.set_since_sequence(0);
      not_before = absl::Now() - *ago;
    }
  }
  for (const auto& filter : ctx.args.Values("filter")) {
    if (auto s = ApplyFilter(filter, &request); !s.ok()) return s;
  }
  uint64_t count = 0;
  if (auto n = ctx.args.Value("count")) {
    if (!absl::SimpleAtoi(*n, &count) || count == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--count: expected a positive number, got \"", *n, "\""));
    }
  }
  auto call = ctx.client().Stream();
  auto reader = ctx.client().stub().Events(call.get(), request);
  pb::Event event;
  uint64_t printed = 0;
  if (!*json)
    Out(absl::StrFormat("%-8s %-30s %-20s %-20s %s\n", "SEQ", "TIME", "KIND", "CONTAINER",
                        "DETAIL"));
  while (reader->Read(&event)) {
    if (not_before && ToTime(event.time()) < *not_before) continue;
    if (*json) {
      Out(ToJson(event) + "\n");
    } else {
      Out(absl::StrFormat("%-8d %-30s %-20s %-20s %s\n", event.sequence(),
                          base::FormatRfc3339Nano(ToTime(event.time())), KindText(event.kind()),
                          event.has_container() ? ContainerName(event.container()) : "-",
                          Detail(event)));
    }
    std::fflush(stdout);
    if (count != 0 && ++printed == count) {
      call->TryCancel();
      (void)reader->Finish();
      return 0;
    }
  }
  auto status = ctx.client().Error(reader->Finish());
  if (!status.ok()) return status;
  return 0;
}

}  // namespace

void AddEventCommands(std::vector<Command>* out) {
  Command events{
      {"events",
       "[OPTIONS]",
       "Print the node's events as they happen",
       "Every event has a sequence number that keeps increasing across agent restarts; "
       "--since SEQ prints the events after it, then follows, so a script that remembers the "
       "last number it saw resumes without a gap. A number no longer kept fails with "
       "OUT_OF_RANGE, naming the oldest kept.",
       {{"since", 0, "SEQ|DURATION",
         "replay after a sequence number, or from a duration ago (10m)"},
        {"filter", 'f', "KEY=VALUE",
         "container=NAME, service=S, deployment=D or kind=container_exited (repeatable)", true},
        {"count", 'n', "N", "exit after N events"}},
       0,
       0},
      Events};
  AddOutputOption(&events.spec);
  out->push_back(std::move(events));
}

}  // namespace zlayer::cli
