// Default behaviours of the ContainerRuntime interface, as the contract defines them.
#include "core/container_runtime.h"

#include "absl/strings/str_cat.h"
#include "core/errors.h"

namespace zlayer::core {

absl::Status ContainerRuntime::KillContainer(const ContainerId&, std::optional<std::string>) {
  return Unsupported("kill_container");
}

absl::StatusOr<std::optional<uint16_t>> ContainerRuntime::GetContainerPortOverride(
    const ContainerId&) {
  return std::optional<uint16_t>();
}

absl::StatusOr<ContainerInspectDetails> ContainerRuntime::InspectDetailed(const ContainerId&) {
  return ContainerInspectDetails{};
}

absl::Status ContainerRuntime::SyncContainerVolumes(const ContainerId&) { return absl::OkStatus(); }

absl::StatusOr<std::vector<LogEntry>> ContainerRuntime::GetLogs(const ContainerId& id) {
  return ContainerLogs(id, 0);
}

absl::StatusOr<std::unique_ptr<LogCursor>> ContainerRuntime::OpenLogs(const ContainerId& id,
                                                                      const LogQuery& query) {
  auto entries = ContainerLogs(id, query.tail);
  if (!entries.ok()) return entries.status();
  if (query.since) {
    std::erase_if(*entries, [&](const LogEntry& e) { return e.timestamp < *query.since; });
  }
  return MakeVectorLogCursor(std::move(*entries));
}

absl::StatusOr<std::unique_ptr<Subscription>> ContainerRuntime::ExecStream(
    const ExecRequest& request, ExecEventFn on_event) {
  auto result = Exec(request);
  if (!result.ok()) return result.status();
  if (!result->stdout_data.empty()) on_event(ExecEvent::Stdout(std::move(result->stdout_data)));
  if (!result->stderr_data.empty()) on_event(ExecEvent::Stderr(std::move(result->stderr_data)));
  on_event(ExecEvent::Exit(result->exit_code));
  return std::unique_ptr<Subscription>(std::make_unique<Subscription>());
}

absl::StatusOr<std::vector<ContainerStats>> ContainerRuntime::ListContainerStats(
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
    } else if (!absl::IsNotFound(stats.status()) && !absl::IsFailedPrecondition(stats.status())) {
      return stats.status();
    }
  }
  return out;
}

absl::StatusOr<WaitOutcome> ContainerRuntime::WaitOutcomeOf(const ContainerId& id) {
  auto code = WaitContainer(id);
  if (!code.ok()) return code.status();
  return WaitOutcome::Exited(*code);
}

absl::StatusOr<std::unique_ptr<Subscription>> ContainerRuntime::Watch(const ContainerId& id,
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

}  // namespace zlayer::core
