// Init actions (spec.init): steps run in order on every start (the API's and the restart policy's), after the rootfs
// is mounted and the network attached, before the main process. A wait step probes
// from inside the container's network namespace through `zlayer-monitor probe
// wait` (monitor/probe.cc); a run step is a short-lived container of the same
// rootfs, mounts and namespaces, launched by its own monitor with its output in the
// container's log. OciBackend::RunInitActions (oci_init_actions.cc) drives them;
// the pieces below are what it is built from, apart so that tests can check them.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/service_spec.h"
#include "nlohmann/json.hpp"

namespace zlayer::oci {

// One attempt's bound when the spec gives none.
inline constexpr absl::Duration kDefaultInitTimeout = absl::Seconds(30);

// INVALID_ARGUMENT naming the step (spec.init[i]) for a step this backend cannot
// run: a port outside 1-65535, a host that is not an IPv4 address or localhost
// (probes do no name lookups), a url that is not http:// (no TLS in probes), an
// empty command, a negative timeout, or a name used twice.
absl::Status ValidateInitActions(const std::vector<core::InitAction>& actions);

// The step's name in messages: its `name`, or "init[<index>]".
std::string InitStepName(const core::InitAction& action, size_t index);
// What the step does, for the log marker: "wait_tcp 127.0.0.1:5432",
// "wait_http http://127.0.0.1:8080/ready", "run /app/migrate --all".
std::string DescribeInitStep(const core::InitAction& action);
// The step's attempt bound: its timeout, or kDefaultInitTimeout.
absl::Duration InitStepTimeout(const core::InitAction& action);

// `zlayer-monitor probe wait ...` for a wait step. `netns` is the path of the
// container's network namespace, or "host" for a container on the host's network.
std::vector<std::string> InitWaitCommand(const std::string& monitor_path, const std::string& netns,
                                         const core::InitAction& action, absl::Duration timeout);

// A run step's config.json, derived from the container's: the same root (at the
// absolute `rootfs`), mounts, namespaces (so the network namespace is shared), user,
// env and cwd, with `command` as the process (behind the agent's init when the
// container has one) and a cgroup of its own.
nlohmann::json InitStepConfig(const nlohmann::json& container_config, const std::string& rootfs,
                              const std::vector<std::string>& command,
                              const std::string& cgroups_path);

}  // namespace zlayer::oci
