// Where a host mounts its cgroup hierarchies, and whether it is v1, v2 or hybrid.
//
// Built once per process (from /proc/self/mountinfo) and then passed by const
// reference to every function of this module, so tests can substitute a fixture:
// FromMountinfo(text, sysroot) prefixes every mount point with `sysroot`, and a copy
// of a real host's cgroup files under that directory then behaves like the host.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/cgroup_stats.h"

namespace zlayer::cgroups {

// Mode of the hierarchy mounted at `root`, by filesystem magic: cgroup2 at the root
// is v2; a tmpfs root with a cgroup2 `unified` below it is hybrid; a tmpfs root
// without one is v1. kUnknown when `root` is not a cgroup mount at all.
core::CgroupMode DetectMode(const std::string& root = "/sys/fs/cgroup");

// One cgroup or cgroup2 line of mountinfo.
struct CgroupMount {
  // Directory the hierarchy is visible at, sysroot included.
  std::string mount_point;
  // The cgroup shown at mount_point (mountinfo field 4): "/" on hosts, a subtree
  // when a container bind-mounts part of a hierarchy.
  std::string root;
  // v1 controllers of the hierarchy ("cpu", "cpuacct", ...); named hierarchies
  // ("name=systemd") are not listed. Empty for cgroup2.
  std::vector<std::string> controllers;
  bool v2 = false;
};

class HostLayout {
 public:
  // The calling process's view: /proc/self/mountinfo, no sysroot.
  static absl::StatusOr<HostLayout> Detect();
  // Parses mountinfo text (only cgroup and cgroup2 lines matter). INVALID_ARGUMENT
  // when it holds no cgroup mount at all.
  static absl::StatusOr<HostLayout> FromMountinfo(absl::string_view mountinfo,
                                                  const std::string& sysroot = "");

  // v2: cgroup2 mounted at /sys/fs/cgroup, or a cgroup2 mount and no v1
  // controller; hybrid: cgroup2 elsewhere (/sys/fs/cgroup/unified) next to v1
  // controllers; v1: no cgroup2 mount. Named v1 hierarchies (name=systemd) do not
  // count as controllers. On v2 the v1 mounts are ignored when locating cgroups.
  core::CgroupMode mode() const { return mode_; }
  // The cgroup2 mount, or nullptr.
  const CgroupMount* unified() const;
  // The first mount carrying v1 `controller`, or nullptr.
  const CgroupMount* V1Mount(absl::string_view controller) const;
  const std::vector<CgroupMount>& mounts() const { return mounts_; }

  // Directory of cgroup `path` (as /proc/PID/cgroup prints it) in `mount`: the
  // mount's root is stripped from the path. NOT_FOUND when the path lies outside the
  // part of the hierarchy the mount shows; INVALID_ARGUMENT for a path with "..".
  static absl::StatusOr<std::string> DirFor(const CgroupMount& mount, absl::string_view path);

 private:
  std::vector<CgroupMount> mounts_;
  core::CgroupMode mode_ = core::CgroupMode::kUnknown;
};

}  // namespace zlayer::cgroups
