// Deleting a stopped runc container without starting another runc process.
//
// After the container's init has exited, `runc delete` removes the cgroup
// directories listed in `<root>/<id>/state.json`, runs poststop hooks and removes
// that directory. Starting runc (a Go binary) costs about 20 ms on the machines we
// measure, a sixth of a whole run to completion, so the monitor does this itself
// when the state is one it fully understands: runc's state.json, every cgroup path
// below /sys/fs/cgroup, no poststop hooks, no Intel RDT group, and a private pid
// namespace (so the kernel has killed every process of the container already).
// Anything else (crun and youki keep other files; hooks; a cgroup that stays busy)
// is left to the runtime's own `delete --force`.
#pragma once

#include <string>
#include <vector>

namespace zlayer::monitor {

enum class CleanupResult {
  kDeleted,      // cgroups and the runtime's state directory are gone
  kUseRuntime,   // not something we delete ourselves: run `RUNTIME delete --force ID`
};

// `state_json` is the text of <runtime_root>/<id>/state.json (empty if missing).
// Exposed for tests: which cgroup directories a state would have us remove, or
// false if the state is not one we delete ourselves.
bool CgroupPathsToRemove(const std::string& state_json, std::vector<std::string>* paths);

// Deletes the stopped container `id` under `runtime_root` if it can (see above).
CleanupResult DeleteStoppedContainer(const std::string& runtime_root, const std::string& id);

}  // namespace zlayer::monitor
