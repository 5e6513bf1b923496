// The OCI runtime as a command line: youki, crun and runc all speak the runc
// contract (create/start/run/state/kill/delete/exec/ps), so one class drives any
// of them, always with a --root of the agent's own.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/process.h"

namespace zlayer::oci {

struct RuntimeInfo {
  std::string name;     // "runc", "crun", "youki", or the file name of a custom path
  std::string path;     // absolute
  std::string version;  // first line of --version, e.g. "runc version 1.1.5+ds1"
};

// One probe attempt, for the start-up log and for the error when nothing works.
struct ProbeResult {
  std::string candidate;
  bool usable = false;
  std::string detail;  // version, or why it was skipped
};

class RuntimeCli {
 public:
  // `choice` is "auto" (youki, then crun, then runc), a name, or a path. Each
  // candidate is checked by running a tiny container with it, since a runtime can
  // be installed and still unable to run on this host (crun refuses hybrid cgroups).
  // `root` is the runtime state directory; `scratch` holds the probe bundle.
  // FAILED_PRECONDITION listing every candidate and why, when none works.
  static absl::StatusOr<std::unique_ptr<RuntimeCli>> Probe(const std::string& choice,
                                                           const std::string& root,
                                                           const std::string& scratch,
                                                           std::vector<ProbeResult>* results);

  RuntimeCli(RuntimeInfo info, std::string root) : info_(std::move(info)), root_(std::move(root)) {}

  const RuntimeInfo& info() const { return info_; }
  const std::string& root() const { return root_; }

  // `<runtime> --root <root>` followed by `args`.
  std::vector<std::string> Command(std::initializer_list<std::string> args) const;

  // Sends a signal to the container's init (or, with `all`, every process in it).
  // NOT_FOUND when the runtime does not know the container.
  absl::Status Kill(const std::string& id, int signal, bool all = false) const;
  // Removes the runtime's state (and cgroup); `force` kills a running container
  // first. Succeeds when the container does not exist.
  absl::Status Delete(const std::string& id, bool force) const;
  // Ids of the containers in our root.
  absl::StatusOr<std::vector<std::string>> List() const;
  // The runtime's status word ("created", "running", "stopped") or NOT_FOUND.
  absl::StatusOr<std::string> Status(const std::string& id) const;

 private:
  absl::StatusOr<base::RunResult> Run(std::vector<std::string> argv,
                                      absl::Duration timeout = absl::Seconds(30)) const;

  RuntimeInfo info_;
  std::string root_;
};

}  // namespace zlayer::oci
