// Reads one container's CgroupStats, cheaply enough to do for 200 containers per
// list call.
//
// Open() resolves paths once: it opens the container's cgroup directories, decides
// per controller whether the v2 (unified) files or the v1 files serve it, and by
// default opens every stats file. Read() then costs one pread(2) per file and no
// path lookup at all. pread at offset 0 makes the kernel regenerate a cgroup file's
// content (seq_file restarts at position 0), so a kept descriptor always yields a
// fresh snapshot.
//
// Controller choice, per controller, by which files exist at Open():
//   cpu usage   unified cpu.stat             else v1 cpuacct.usage (+ cpuacct.stat)
//   throttling  unified cpu.stat (cpu.max    else v1 cpu.stat
//               present = cpu controller)
//   memory      unified memory.current, .max, .stat, .events
//               else v1 memory.usage_in_bytes, .limit_in_bytes, .stat, .oom_control,
//               .kmem.usage_in_bytes, .kmem.tcp.usage_in_bytes
//   pids        unified pids.current/.max    else v1 pids.current/.max
//   io          unified io.stat              else v1 blkio.throttle.io_service*_recursive
//   pressure    unified {cpu,memory,io}.pressure (none on pure v1)
// docs/stats.md lists every field and its source.
//
// A cgroup that disappears (the container was deleted) makes Read() return
// NOT_FOUND: kept file descriptors then fail with ENODEV and directory lookups with
// ENOENT, both of which are checked against the directory itself. A half-read
// snapshot is never returned, so a vanished container never shows zeros that look
// like measurements.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/unique_fd.h"
#include "cgroups/locate.h"
#include "core/cgroup_stats.h"

namespace zlayer::cgroups {

class StatsReader {
 public:
  struct Options {
    // Keep every stats file open (about 10 descriptors per container on v2, 14 on
    // hybrid hosts). false keeps only the directory descriptors (at most 6) and pays
    // openat+read+close per file instead; use it when descriptors are scarce.
    bool cache_file_fds = true;
  };

  // Opens the directories in `paths` and chooses each controller's files.
  // NOT_FOUND: a directory in `paths` does not exist (the container is gone or not
  // created yet). FAILED_PRECONDITION: no CPU accounting or no memory controller is
  // available for this cgroup, so the core fields could not be filled.
  // RESOURCE_EXHAUSTED: out of file descriptors.
  static absl::StatusOr<std::unique_ptr<StatsReader>> Open(const CgroupPaths& paths,
                                                           Options options);
  static absl::StatusOr<std::unique_ptr<StatsReader>> Open(const CgroupPaths& paths) {
    return Open(paths, Options());
  }

  StatsReader(const StatsReader&) = delete;
  StatsReader& operator=(const StatsReader&) = delete;
  ~StatsReader();

  // One snapshot. Thread-safe: it touches no member state (pread takes explicit
  // offsets) and may run concurrently on the same reader.
  // NOT_FOUND: the cgroup is gone. FAILED_PRECONDITION: a core controller was
  // disabled after Open(). INTERNAL: a core file is malformed (the message quotes
  // it). Extras whose files are missing or malformed are left unset.
  absl::StatusOr<core::CgroupStats> Read() const;

  // "cpu=unified throttling=v1 memory=v1 pids=v1 io=v1 pressure=unified" and so on.
  std::string Describe() const;
  // Descriptors this reader holds.
  size_t open_fds() const;
  const CgroupPaths& paths() const { return paths_; }

  // Which file a value comes from; public only for the implementation's tables.
  enum class Stat : uint8_t;

 private:
  struct Source;
  StatsReader();

  CgroupPaths paths_;
  std::vector<base::UniqueFd> dirs_;
  std::vector<std::string> dir_paths_;
  std::vector<Source> sources_;
};

}  // namespace zlayer::cgroups
