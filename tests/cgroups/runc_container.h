// A real runc container for the live cgroup tests: its own runc --root and bundle in
// a temp dir, the static hog binary as its only file, deleted (runc delete -f) on
// destruction even when the test failed half-way. Containers of a test process that
// was killed outright (ctest timeout) are swept by the next RuncContainer::Run.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/fs_util.h"

namespace zlayer::testing {

struct RuncSpec {
  // Arguments after /hog: {"mem", "64"}, {"cpu"}, {"fork", "5"}.
  std::vector<std::string> hog_args;
  // linux.resources; 0 = unset.
  uint64_t memory_limit = 0;
  int64_t pids_limit = 0;
  // linux.cgroupsPath; empty = unset (runc then uses the container id, relative).
  std::string cgroups_path;
};

class RuncContainer {
 public:
  // Creates the bundle and runs `runc run -d`. Bounded by a 30 s deadline.
  static absl::StatusOr<std::unique_ptr<RuncContainer>> Run(const RuncSpec& spec);
  // Deletes the container (runc delete -f) if still there.
  ~RuncContainer();

  const std::string& id() const { return id_; }
  pid_t pid() const { return pid_; }
  // The container's root filesystem, as seen from the host.
  std::string rootfs() const { return dir_.path() + "/bundle/rootfs"; }
  // True once the hog created /ready.
  bool Ready() const;
  // Waits for Ready(), up to `timeout`.
  bool WaitReady(absl::Duration timeout = absl::Seconds(10)) const;
  // runc delete -f; idempotent.
  absl::Status Delete();
  // "running", "stopped", ... from runc state.
  absl::StatusOr<std::string> Status() const;

 private:
  RuncContainer(base::TempDir dir, std::string runc, std::string id)
      : dir_(std::move(dir)), runc_(std::move(runc)), id_(std::move(id)) {}
  absl::StatusOr<std::string> Runc(const std::vector<std::string>& args) const;

  base::TempDir dir_;
  std::string runc_;
  std::string id_;
  pid_t pid_ = -1;
  bool deleted_ = false;
};

// After a container with a nested cgroupsPath is deleted: runc removes only the
// leaf, so remove the (now empty) parents in every hierarchy, named ones included.
// `proc_pid_cgroup` is the container's /proc/PID/cgroup, read while it ran.
void RemoveCgroupParents(const std::string& proc_pid_cgroup);

}  // namespace zlayer::testing
