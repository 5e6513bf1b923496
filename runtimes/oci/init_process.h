// An init as the container's PID 1, like `docker run --init`.
//
// The kernel drops every signal whose action is the default at a pid namespace's
// PID 1, so a workload such as `sleep` ignores SIGTERM when it is PID 1 and a stop
// always waits out its grace period; nor does an ordinary program reap the orphans
// reparented to it. A small init (tini, or catatonit) runs as PID 1 instead: it
// forwards signals to the workload, reaps zombies and exits with the workload's
// code, 128+N when the workload died of signal N (ExitRecord::ToOutcome reads that
// back as the signal).
//
// The binary is bind-mounted from the host, so it must be statically linked: the
// image may have no libc, or a different one.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/service_spec.h"
#include "nlohmann/json.hpp"
#include "runtimes/backend_config.h"

namespace zlayer::oci {

// Where the init appears inside the container, beside Docker's /sbin/docker-init.
// runc creates the mount point when the image has none.
inline constexpr char kInitMountPath[] = "/sbin/zlayer-init";

struct InitBinary {
  std::string path;  // on the host
  std::string name;  // "tini" or "catatonit", from the file name; for logs
};

// Host paths tried, in order, when no init_path is configured: Debian's tini
// package ships /usr/bin/tini-static; catatonit's packages ship a static binary too.
const std::vector<std::string>& InitCandidates();

// "" when `path` is an executable, statically linked ELF file (no PT_INTERP, so
// it runs without the host's dynamic loader); otherwise what is wrong with it.
std::string CheckStaticExecutable(const std::string& path);

// The init: `configured` when set (it must pass CheckStaticExecutable), otherwise
// the first candidate that does. FAILED_PRECONDITION saying what to install.
absl::StatusOr<InitBinary> ProbeInitBinary(const std::string& configured);

// Whether a container gets the init: spec.init_process when set, else the agent's
// default. nullopt when not wanted. When wanted and `probed` (the probe made at
// agent start) found nothing, probes once more, since tini may have been installed
// since; FAILED_PRECONDITION naming what to install when it still finds nothing.
absl::StatusOr<std::optional<InitBinary>> ResolveInit(const core::ServiceSpec& spec,
                                                      const runtimes::BackendConfig& config,
                                                      const absl::StatusOr<InitBinary>& probed);

// Makes `init` PID 1 of a config from BuildConfig: mounts it read-only at
// kInitMountPath and runs ["/sbin/zlayer-init", "--", <args...>]. Env, cwd and user
// stay as they are: the init passes its environment on and runs as the workload's
// user. It needs no flags as PID 1 (tini's -s is for when it is not).
void ApplyInit(const InitBinary& init, nlohmann::json* config);

}  // namespace zlayer::oci
