// What a container's cgroup says about it, read from cgroup v2 files or their v1
// equivalents. Plain data: no gRPC, no runtime knowledge.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace zlayer::core {

enum class CgroupMode {
  kUnknown,
  kV2,      // pure unified hierarchy
  kHybrid,  // v1 controllers plus a v2 tree without controllers
  kV1,      // legacy only
};

// "v2", "hybrid", "v1" or "unknown".
const char* CgroupModeName(CgroupMode mode);

struct IoDeviceStats {
  uint32_t major = 0;
  uint32_t minor = 0;
  uint64_t rbytes = 0;
  uint64_t wbytes = 0;
  uint64_t rios = 0;
  uint64_t wios = 0;
};

struct PressureLine {
  double avg10 = 0;
  double avg60 = 0;
  double avg300 = 0;
  uint64_t total_usec = 0;
};

struct Pressure {
  std::optional<PressureLine> some;
  std::optional<PressureLine> full;
};

struct CgroupStats {
  // The core, always set when a read succeeds.
  uint64_t cpu_usage_usec = 0;
  uint64_t memory_bytes = 0;
  // 0 = unlimited ("max" on v2, the huge sentinel on v1).
  uint64_t memory_limit = 0;

  // Extras, set when the host exposes them.
  std::optional<uint64_t> cpu_user_usec;
  std::optional<uint64_t> cpu_system_usec;
  std::optional<uint64_t> cpu_nr_periods;
  std::optional<uint64_t> cpu_nr_throttled;
  std::optional<uint64_t> cpu_throttled_usec;

  std::optional<uint64_t> memory_anon;
  std::optional<uint64_t> memory_file;
  std::optional<uint64_t> memory_kernel;
  std::optional<uint64_t> memory_sock;
  std::optional<uint64_t> memory_shmem;
  // Page cache the kernel may reclaim first; usage minus this is the working set.
  std::optional<uint64_t> memory_inactive_file;
  std::optional<uint64_t> memory_oom_events;
  std::optional<uint64_t> memory_oom_kill;

  std::optional<uint64_t> pids_current;
  // 0 = unlimited.
  std::optional<uint64_t> pids_max;

  std::vector<IoDeviceStats> io;

  std::optional<Pressure> cpu_pressure;
  std::optional<Pressure> memory_pressure;
  std::optional<Pressure> io_pressure;

  CgroupMode mode = CgroupMode::kUnknown;
};

}  // namespace zlayer::core
