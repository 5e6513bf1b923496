// Default behaviours of the Runtime interface, as the contract defines them.
#include "runtimes/runtime.h"

#include "absl/strings/str_cat.h"
#include "base/errors.h"

namespace zlayer::runtimes {

absl::StatusOr<ImportResult> Runtime::ImportImage(const std::string&, int) {
  return base::Unsupported("import_image");
}

absl::StatusOr<std::vector<ImageInfo>> Runtime::ListImages() {
  return base::Unsupported("list_images");
}

absl::Status Runtime::RemoveImage(const std::string&, bool) {
  return base::Unsupported("remove_image");
}

absl::StatusOr<PruneResult> Runtime::PruneImages() { return base::Unsupported("prune_images"); }

absl::Status Runtime::TagImage(const std::string&, const std::string&) {
  return base::Unsupported("tag_image");
}

absl::Status Runtime::KillContainer(const ContainerId&, std::optional<std::string>) {
  return base::Unsupported("kill_container");
}

absl::StatusOr<std::optional<uint16_t>> Runtime::GetContainerPortOverride(const ContainerId&) {
  return std::optional<uint16_t>();
}

absl::StatusOr<ContainerInspectDetails> Runtime::InspectDetailed(const ContainerId&) {
  return ContainerInspectDetails{};
}

absl::Status Runtime::SyncContainerVolumes(const ContainerId&) { return absl::OkStatus(); }

absl::StatusOr<std::vector<LogEntry>> Runtime::GetLogs(const ContainerId& id) {
  return ContainerLogs(id, 0);
}

absl::StatusOr<std::unique_ptr<LogCursor>> Runtime::OpenLogs(const ContainerId& id,
                                                             const LogQuery& query) {
  auto entries = ContainerLogs(id, query.tail);
  if (!entries.ok()) return entries.status();
  if (query.since) {
    std::erase_if(*entries, [&](const LogEntry& e) { return e.timestamp < *query.since; });
  }
  return MakeVectorLogCursor(std::move(*entries));
}

absl::StatusOr<std::unique_ptr<Subscription>> Runtime::ExecStream(const ExecRequest& request,
                                                                   ExecEventFn on_event) {
  auto result = Exec(request);
  if (!result.ok()) return result.status();
  if (!result->stdout_data.empty()) on_event(ExecEvent::Stdout(std::move(result->stdout_data)));
  if (!result->stderr_data.empty()) on_event(ExecEvent::Stderr(std::move(result->stderr_data)));
  on_event(ExecEvent::Exit(result->exit_code));
  return std::unique_ptr<Subscription>(std::make_unique<Subscription>());
}

absl::StatusOr<std::vector<ContainerStats>> Runtime::ListContainerStats(
    const ContainerFilter& filter) {
  ContainerFilter running = filter;
  running.phase = ContainerState::Phase::kRunning;
  auto records = ListContainers(running);
  if (!records.ok()) return records.status();
  std::vector<ContainerStats> out;
  out.reserve(records->size());
  for (const auto& r : *records) {
    auto stats = GetContainerStats(r.id);
    if (stats.ok()) {
      out.push_back(std::move(*stats));
    } else if (!absl::IsNotFound(stats.status()) &&
               !absl::IsFailedPrecondition(stats.status())) {
      return stats.status();
    }
  }
  return out;
}

absl::StatusOr<WaitOutcome> Runtime::WaitOutcomeOf(const ContainerId& id) {
  auto code = WaitContainer(id);
  if (!code.ok()) return code.status();
  return WaitOutcome::Exited(*code);
}

absl::StatusOr<std::unique_ptr<Subscription>> Runtime::Watch(const ContainerId& id,
                                                             WatchFn on_event) {
  auto state = GetContainerState(id);
  if (!state.ok()) return state.status();
  on_event(WatchEvent{*state, std::nullopt, absl::OkStatus()});
  auto outcome = WaitOutcomeOf(id);
  WatchEvent last;
  if (!outcome.ok()) {
    last.state = *state;
    last.error = outcome.status();
  } else {
    auto after = GetContainerState(id);
    last.state = after.ok() ? *after : ContainerState::Exited(outcome->exit_code);
    last.outcome = *outcome;
  }
  on_event(last);
  return std::unique_ptr<Subscription>(std::make_unique<Subscription>());
}

}  // namespace zlayer::runtimes
