// Finding a container's cgroup directories: from a process (authoritative: where the
// kernel says the process is) or from the bundle's linux.cgroupsPath (where the
// runtime will put it, computable before the container exists).
//
// On v1 and hybrid hosts each controller has its own directory, and they need not
// share a path: on these machines the memory hierarchy nests the container below the
// agent's own memory cgroup while the others sit at the top. Never guess one from
// another; take each from /proc/PID/cgroup or from the runtime's rules below.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cgroups/layout.h"
#include "core/cgroup_stats.h"

namespace zlayer::cgroups {

// A container's cgroup directories. Empty = not available on this host (hierarchy
// not mounted, or the process sits at that hierarchy's root, which is the whole
// host and never a container's own cgroup).
struct CgroupPaths {
  core::CgroupMode mode = core::CgroupMode::kUnknown;
  // The cgroup2 directory. On v2 every controller reads from here. On hybrid hosts
  // the unified tree has no controllers but still carries cpu.stat (usage, user,
  // system), cgroup.events and the *.pressure files.
  std::string unified;
  // v1 hierarchies; set on v1 and hybrid hosts.
  std::string cpu;
  std::string cpuacct;
  std::string memory;
  std::string pids;
  std::string blkio;

  bool empty() const {
    return unified.empty() && cpu.empty() && cpuacct.empty() && memory.empty() &&
           pids.empty() && blkio.empty();
  }
  bool operator==(const CgroupPaths&) const = default;
};

// "hybrid unified=/sys/fs/cgroup/unified/x memory=..." for logs and test failures.
std::string DebugString(const CgroupPaths& paths);

// /proc/PID/cgroup, parsed: "ID:CONTROLLERS:PATH" lines.
struct ProcCgroup {
  // The "0::PATH" line (cgroup2), when the kernel prints one.
  std::optional<std::string> unified;
  // One entry per v1 controller or named hierarchy ("name=systemd"); a line naming
  // several controllers ("cpu,cpuacct") yields one entry each.
  std::vector<std::pair<std::string, std::string>> v1;

  // The path of v1 `controller`, or nullptr.
  const std::string* V1Path(absl::string_view controller) const;
};

// INVALID_ARGUMENT when a line is not "ID:CONTROLLERS:PATH".
absl::StatusOr<ProcCgroup> ParseProcCgroup(absl::string_view text);

// Directories for the process whose /proc/PID/cgroup reads `proc_pid_cgroup`.
// A hierarchy where the process shares the cgroup listed in `not_shared_with` (the
// caller's own /proc/self/cgroup) is dropped like a root path: a runtime that did
// not move the container there (a hybrid host's unified tree, say) would otherwise
// make the agent's own usage look like the container's.
// FAILED_PRECONDITION when nothing is left (not in a container cgroup at all).
absl::StatusOr<CgroupPaths> PathsFromProcCgroup(const HostLayout& layout,
                                                absl::string_view proc_pid_cgroup,
                                                absl::string_view not_shared_with = "");

// Reads <proc_root>/PID/cgroup, excluding the hierarchies where PID shares the
// caller's cgroup (<proc_root>/self/cgroup). NOT_FOUND when the process is gone.
absl::StatusOr<CgroupPaths> LocateByPid(const HostLayout& layout, pid_t pid,
                                        const std::string& proc_root = "/proc");

// Where runc (1.1, cgroupfs driver, not the systemd driver) puts a container with
// this linux.cgroupsPath, given the /proc/self/cgroup of the process that runs the
// runtime (the runtime resolves relative paths against its own cgroup, and runc
// inherits the cgroups of whoever spawned it: agentd or a monitor).
//
// The path is first cleaned as runc's CleanPath does (".." cannot climb above "/"
// or above the runtime's cgroup); an empty cgroupsPath means `container_id`,
// relative. Then, per hierarchy:
// - v2:        absolute -> <mount>/<path>;
//              relative -> <mount>/<parent of the runtime's cgroup>/<path>
//              (runc fs2 steps up one level: its own cgroup holds processes, and
//              the no-internal-process rule forbids enabling controllers there);
// - v1:        absolute -> <controller mount>/<path>;
//              relative -> <controller mount>/<runtime's cgroup there>/<path>;
// - hybrid:    v1 controllers as on v1, and the unified directory is
//              <unified mount>/<path> whether the path is relative or not
//              (measured with runc 1.1.5 on these hosts: relative paths ignore the
//              runtime's unified cgroup).
// The directories need not exist yet. crun refuses hybrid hosts outright; on v2 it
// resolves paths as above.
absl::StatusOr<CgroupPaths> LocateByCgroupsPath(const HostLayout& layout,
                                                absl::string_view cgroups_path,
                                                absl::string_view container_id,
                                                absl::string_view runtime_proc_cgroup);

// runc's CleanPath: lexical clean; relative paths stay relative but cannot start
// with "..". "" stays "".
std::string CleanCgroupPath(absl::string_view path);

}  // namespace zlayer::cgroups
