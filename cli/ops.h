// Calls several commands share: each one RPC with its deadline, its error turned
// into a status, and nothing printed.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cli/client.h"
#include "cli/args.h"

namespace zlayer::cli {

// The ids named by `args.args[first...]`, in order; the first bad name fails them all.
absl::StatusOr<std::vector<pb::ContainerId>> ParseNames(const std::vector<std::string>& names);

absl::Status CreateContainer(Client& client, const pb::CreateContainerRequest& request);
absl::Status StartContainer(Client& client, const pb::ContainerId& id);
// `timeout` absent = the container's stop_grace_period, else the agent's 10s.
absl::Status StopContainer(Client& client, const pb::ContainerId& id,
                           std::optional<absl::Duration> timeout);
absl::Status KillContainer(Client& client, const pb::ContainerId& id, const std::string& signal);
absl::Status RemoveContainer(Client& client, const pb::ContainerId& id, bool force);
absl::StatusOr<pb::ContainerInfo> InspectContainer(Client& client, const pb::ContainerId& id);
absl::StatusOr<std::vector<pb::ContainerSummary>> ListContainers(
    Client& client, const pb::ListContainersRequest& request);
// Follows the Wait stream to its outcome.
absl::StatusOr<pb::WaitOutcome> WaitForOutcome(Client& client, const pb::ContainerId& id);
// Stops it when it may be running, then removes it (force covers a race with a start).
absl::Status StopAndRemove(Client& client, const pb::ContainerId& id, pb::ContainerPhase phase,
                           std::optional<absl::Duration> timeout);

// -t/--time: whole seconds ("10") or a duration ("1m30s").
absl::StatusOr<std::optional<absl::Duration>> StopTimeout(const ParsedArgs& args);

// Prints a container's log entries as they come: stdout lines to stdout, stderr
// lines to stderr; with `json`, one LogEntry object per line on stdout. Returns when
// the stream ends (for follow: when the container exits).
absl::Status PrintLogs(Client& client, const pb::ContainerLogsRequest& request, bool timestamps,
                       bool json);

// Runs `fn` for each name and prints the name when it succeeded; a failure is printed as one line and the rest go on.
// Returns the exit code: 0 when all succeeded, 1 otherwise.
int ForEachName(const std::vector<std::string>& names,
                const std::function<absl::Status(const pb::ContainerId&)>& fn);

}  // namespace zlayer::cli
