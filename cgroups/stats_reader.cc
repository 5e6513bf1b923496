#include "cgroups/stats_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cgroups/parse.h"
#include "core/errors.h"

namespace zlayer::cgroups {

enum class StatsReader::Stat : uint8_t {
  kCpuStatV2,      // usage/user/system (+ throttling with the cpu controller)
  kCpuacctUsage,   // v1 total ns
  kCpuacctStat,    // v1 user/system in USER_HZ ticks
  kCpuStatV1,      // v1 throttling
  kMemCurrent,
  kMemMax,
  kMemStatV2,
  kMemEvents,
  kMemUsageV1,
  kMemLimitV1,
  kMemStatV1,
  kMemOomControl,
  kKmemUsageV1,
  kKmemTcpUsageV1,
  kPidsCurrent,
  kPidsMax,
  kIoStat,
  kBlkioBytes,
  kBlkioServiced,
  kCpuPressure,
  kMemPressure,
  kIoPressure,
};

struct StatsReader::Source {
  Stat stat;
  const char* name;
  size_t dir;            // index into dirs_
  bool core;             // the snapshot is worthless without it
  base::UniqueFd fd;     // set when Options::cache_file_fds
};

namespace {

using Stat = StatsReader::Stat;

// A read error that means "this file is no longer there": ENOENT from a lookup in a
// removed directory, ENODEV from a descriptor whose kernfs node was removed.
bool IsGoneErrno(int err) { return err == ENOENT || err == ENODEV; }

bool Exists(int dirfd, const char* name) {
  return ::faccessat(dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

// Every cgroup directory, v1 or v2, has cgroup.procs; a lookup in a removed
// directory fails with ENOENT, even through a descriptor opened before the removal.
bool DirAlive(int dirfd) { return Exists(dirfd, "cgroup.procs"); }

uint64_t TicksToUsec(uint64_t ticks) {
  static const long hz = ::sysconf(_SC_CLK_TCK);
  return hz > 0 ? ticks * (1000000 / static_cast<uint64_t>(hz)) : 0;
}

absl::Status Malformed(const std::string& dir, const char* name, absl::string_view content) {
  return absl::InternalError(absl::StrCat("malformed cgroup file ", dir, "/", name, ": '",
                                          content.substr(0, 120), "'"));
}

// Up to this much is read into a stack buffer; larger files (io.stat with hundreds
// of devices, cpuacct files on huge machines) fall back to the heap.
constexpr size_t kStackBuffer = 8192;

}  // namespace

StatsReader::StatsReader() = default;
StatsReader::~StatsReader() = default;

absl::StatusOr<std::unique_ptr<StatsReader>> StatsReader::Open(const CgroupPaths& paths,
                                                               Options options) {
  std::unique_ptr<StatsReader> r(new StatsReader());
  r->paths_ = paths;

  // Opens `path` once (cpu and cpuacct often share a directory); -1 when unset.
  auto open_dir = [&](const std::string& path) -> absl::StatusOr<int> {
    if (path.empty()) return -1;
    for (size_t i = 0; i < r->dir_paths_.size(); ++i) {
      if (r->dir_paths_[i] == path) return static_cast<int>(i);
    }
    base::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) {
      const int err = errno;
      if (err == ENOENT) {
        return core::NotFound(absl::StrCat("cgroup ", path),
                              "it does not exist (container gone or not created yet)");
      }
      return core::ErrnoStatus(err, absl::StrCat("open ", path));
    }
    r->dirs_.push_back(std::move(fd));
    r->dir_paths_.push_back(path);
    return static_cast<int>(r->dirs_.size() - 1);
  };
  struct Dirs {
    int unified, cpu, cpuacct, memory, pids, blkio;
  } d{};
  {
    const std::pair<int*, const std::string*> all[] = {
        {&d.unified, &paths.unified}, {&d.cpu, &paths.cpu},   {&d.cpuacct, &paths.cpuacct},
        {&d.memory, &paths.memory},   {&d.pids, &paths.pids}, {&d.blkio, &paths.blkio},
    };
    for (auto [slot, path] : all) {
      auto idx = open_dir(*path);
      if (!idx.ok()) return idx.status();
      *slot = *idx;
    }
  }
  auto has = [&](int dir, const char* name) {
    return dir >= 0 && Exists(r->dirs_[dir].get(), name);
  };
  auto add = [&](Stat stat, int dir, const char* name, bool core) {
    r->sources_.push_back(Source{stat, name, static_cast<size_t>(dir), core, {}});
  };
  auto add_if = [&](Stat stat, int dir, const char* name) {
    if (has(dir, name)) add(stat, dir, name, /*core=*/false);
  };

  // CPU. The unified cpu.stat exists in every cgroup2 directory, controller or not:
  // usage/user/system come from the always-on base accounting.
  if (has(d.unified, "cpu.stat")) {
    add(Stat::kCpuStatV2, d.unified, "cpu.stat", true);
  } else if (has(d.cpuacct, "cpuacct.usage")) {
    add(Stat::kCpuacctUsage, d.cpuacct, "cpuacct.usage", true);
    add_if(Stat::kCpuacctStat, d.cpuacct, "cpuacct.stat");
  } else {
    return absl::FailedPreconditionError(absl::StrCat(
        "no CPU accounting for cgroup (neither unified cpu.stat nor cpuacct.usage): ",
        DebugString(paths)));
  }
  // Throttling lives in the unified cpu.stat only with the cpu controller enabled
  // there (cpu.max is its marker); otherwise in the v1 cpu hierarchy.
  if (!has(d.unified, "cpu.max")) add_if(Stat::kCpuStatV1, d.cpu, "cpu.stat");

  // Memory.
  if (has(d.unified, "memory.current")) {
    add(Stat::kMemCurrent, d.unified, "memory.current", true);
    add(Stat::kMemMax, d.unified, "memory.max", true);
    add_if(Stat::kMemStatV2, d.unified, "memory.stat");
    add_if(Stat::kMemEvents, d.unified, "memory.events");
  } else if (has(d.memory, "memory.usage_in_bytes")) {
    add(Stat::kMemUsageV1, d.memory, "memory.usage_in_bytes", true);
    add(Stat::kMemLimitV1, d.memory, "memory.limit_in_bytes", true);
    add_if(Stat::kMemStatV1, d.memory, "memory.stat");
    add_if(Stat::kMemOomControl, d.memory, "memory.oom_control");
    add_if(Stat::kKmemUsageV1, d.memory, "memory.kmem.usage_in_bytes");
    add_if(Stat::kKmemTcpUsageV1, d.memory, "memory.kmem.tcp.usage_in_bytes");
  } else {
    return absl::FailedPreconditionError(absl::StrCat(
        "no memory controller for cgroup (neither memory.current nor "
        "memory.usage_in_bytes): ",
        DebugString(paths)));
  }

  // pids.
  if (has(d.unified, "pids.current")) {
    add_if(Stat::kPidsCurrent, d.unified, "pids.current");
    add_if(Stat::kPidsMax, d.unified, "pids.max");
  } else {
    add_if(Stat::kPidsCurrent, d.pids, "pids.current");
    add_if(Stat::kPidsMax, d.pids, "pids.max");
  }

  // I/O. v1 prefers the _recursive files: v2's io.stat is hierarchical too.
  if (has(d.unified, "io.stat")) {
    add(Stat::kIoStat, d.unified, "io.stat", false);
  } else if (has(d.blkio, "blkio.throttle.io_service_bytes_recursive")) {
    add(Stat::kBlkioBytes, d.blkio, "blkio.throttle.io_service_bytes_recursive", false);
    add_if(Stat::kBlkioServiced, d.blkio, "blkio.throttle.io_serviced_recursive");
  } else if (has(d.blkio, "blkio.throttle.io_service_bytes")) {
    add(Stat::kBlkioBytes, d.blkio, "blkio.throttle.io_service_bytes", false);
    add_if(Stat::kBlkioServiced, d.blkio, "blkio.throttle.io_serviced");
  }

  // Pressure (PSI): only in cgroup2 directories, absent when booted with psi=0.
  add_if(Stat::kCpuPressure, d.unified, "cpu.pressure");
  add_if(Stat::kMemPressure, d.unified, "memory.pressure");
  add_if(Stat::kIoPressure, d.unified, "io.pressure");

  if (options.cache_file_fds) {
    for (Source& s : r->sources_) {
      s.fd = base::UniqueFd(::openat(r->dirs_[s.dir].get(), s.name, O_RDONLY | O_CLOEXEC));
      if (!s.fd) {
        const int err = errno;
        if (IsGoneErrno(err)) {
          return core::NotFound(absl::StrCat("cgroup ", r->dir_paths_[s.dir]),
                                "removed while opening its files");
        }
        return core::ErrnoStatus(err, absl::StrCat("open ", r->dir_paths_[s.dir], "/", s.name));
      }
    }
  }
  // A directory removed during the probing above would have made files look absent;
  // make sure every directory is still there before trusting the choice.
  for (size_t i = 0; i < r->dirs_.size(); ++i) {
    if (!DirAlive(r->dirs_[i].get())) {
      return core::NotFound(absl::StrCat("cgroup ", r->dir_paths_[i]), "removed while opening");
    }
  }
  return r;
}

size_t StatsReader::open_fds() const {
  size_t n = dirs_.size();
  for (const Source& s : sources_) n += s.fd ? 1 : 0;
  return n;
}

std::string StatsReader::Describe() const {
  auto where = [&](std::initializer_list<Stat> stats) -> std::string {
    for (const Source& s : sources_) {
      for (Stat st : stats) {
        if (s.stat == st) return dir_paths_[s.dir] == paths_.unified ? "unified" : "v1";
      }
    }
    return "none";
  };
  std::string throttling = where({Stat::kCpuStatV1});
  if (throttling == "none" && !paths_.unified.empty() && !dirs_.empty() &&
      dir_paths_[0] == paths_.unified && Exists(dirs_[0].get(), "cpu.max")) {
    throttling = "unified";
  }
  return absl::StrCat("cpu=", where({Stat::kCpuStatV2, Stat::kCpuacctUsage}),
                      " throttling=", throttling,
                      " memory=", where({Stat::kMemCurrent, Stat::kMemUsageV1}),
                      " pids=", where({Stat::kPidsCurrent}),
                      " io=", where({Stat::kIoStat, Stat::kBlkioBytes}),
                      " pressure=", where({Stat::kCpuPressure, Stat::kMemPressure,
                                           Stat::kIoPressure}));
}

namespace {

// Reads a whole file: with a kept descriptor one pread at offset 0 (the kernel
// regenerates the content), else openat+read+close. `small` must hold kStackBuffer
// bytes; `big` takes over when the content does not fit. On failure returns the
// errno, leaving the caller to decide what it means.
int ReadWhole(int dirfd, const char* name, int fd, char* small, std::string& big,
              absl::string_view& out) {
  base::UniqueFd opened;
  if (fd < 0) {
    opened = base::UniqueFd(::openat(dirfd, name, O_RDONLY | O_CLOEXEC));
    if (!opened) return errno;
    fd = opened.get();
  }
  ssize_t n;
  do {
    n = ::pread(fd, small, kStackBuffer, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno;
  if (static_cast<size_t>(n) < kStackBuffer) {
    out = absl::string_view(small, static_cast<size_t>(n));
    return 0;
  }
  // Larger than the stack buffer: keep reading from where the first read stopped.
  big.assign(small, static_cast<size_t>(n));
  for (;;) {
    char chunk[kStackBuffer];
    const ssize_t m = ::pread(fd, chunk, sizeof chunk, static_cast<off_t>(big.size()));
    if (m < 0 && errno == EINTR) continue;
    if (m < 0) return errno;
    if (m == 0) break;
    big.append(chunk, static_cast<size_t>(m));
  }
  out = big;
  return 0;
}

}  // namespace

absl::StatusOr<core::CgroupStats> StatsReader::Read() const {
  core::CgroupStats st;
  st.mode = paths_.mode;
  bool have_cpu = false, have_mem = false, have_limit = false;
  char small[kStackBuffer];
  std::string big;

  for (const Source& src : sources_) {
    const int dirfd = dirs_[src.dir].get();
    absl::string_view c;
    if (const int err = ReadWhole(dirfd, src.name, src.fd.get(), small, big, c); err != 0) {
      const std::string& dir = dir_paths_[src.dir];
      if (IsGoneErrno(err)) {
        if (!DirAlive(dirfd)) {
          return core::NotFound(absl::StrCat("cgroup ", dir),
                                "it was removed (the container is gone)");
        }
        // The directory lives but the file went away: its controller was disabled.
        if (src.core) {
          return absl::FailedPreconditionError(
              absl::StrCat(dir, "/", src.name, " disappeared: controller disabled"));
        }
        continue;
      }
      // cgroup.pressure set to 0 makes the pressure files refuse reads.
      if (err == EOPNOTSUPP && !src.core) continue;
      return core::ErrnoStatus(err, absl::StrCat("read ", dir, "/", src.name));
    }

    switch (src.stat) {
      case Stat::kCpuStatV2: {
        static constexpr absl::string_view kKeys[] = {
            "usage_usec", "user_usec", "system_usec", "nr_periods", "nr_throttled",
            "throttled_usec"};
        std::optional<uint64_t> v[6];
        ParseKeyedValues(c, kKeys, v, 6);
        if (!v[0]) return Malformed(dir_paths_[src.dir], src.name, c);
        st.cpu_usage_usec = *v[0];
        have_cpu = true;
        st.cpu_user_usec = v[1];
        st.cpu_system_usec = v[2];
        if (v[3]) st.cpu_nr_periods = v[3];
        if (v[4]) st.cpu_nr_throttled = v[4];
        if (v[5]) st.cpu_throttled_usec = v[5];
        break;
      }
      case Stat::kCpuacctUsage: {
        auto ns = ParseSingleValue(c);
        if (!ns) return Malformed(dir_paths_[src.dir], src.name, c);
        st.cpu_usage_usec = *ns / 1000;
        have_cpu = true;
        break;
      }
      case Stat::kCpuacctStat: {
        static constexpr absl::string_view kKeys[] = {"user", "system"};
        std::optional<uint64_t> v[2];
        ParseKeyedValues(c, kKeys, v, 2);
        if (v[0]) st.cpu_user_usec = TicksToUsec(*v[0]);
        if (v[1]) st.cpu_system_usec = TicksToUsec(*v[1]);
        break;
      }
      case Stat::kCpuStatV1: {
        static constexpr absl::string_view kKeys[] = {"nr_periods", "nr_throttled",
                                                      "throttled_time"};
        std::optional<uint64_t> v[3];
        ParseKeyedValues(c, kKeys, v, 3);
        st.cpu_nr_periods = v[0];
        st.cpu_nr_throttled = v[1];
        if (v[2]) st.cpu_throttled_usec = *v[2] / 1000;  // v1 counts nanoseconds
        break;
      }
      case Stat::kMemCurrent:
      case Stat::kMemUsageV1: {
        auto v = ParseSingleValue(c);
        if (!v) return Malformed(dir_paths_[src.dir], src.name, c);
        st.memory_bytes = *v;
        have_mem = true;
        break;
      }
      case Stat::kMemMax:
      case Stat::kMemLimitV1: {
        auto v = ParseLimit(c);
        if (!v) return Malformed(dir_paths_[src.dir], src.name, c);
        st.memory_limit = *v;
        have_limit = true;
        break;
      }
      case Stat::kMemStatV2: {
        static constexpr absl::string_view kKeys[] = {"anon", "file",  "kernel",
                                                      "sock", "shmem", "inactive_file"};
        std::optional<uint64_t> v[6];
        ParseKeyedValues(c, kKeys, v, 6);
        st.memory_anon = v[0];
        st.memory_file = v[1];
        st.memory_kernel = v[2];
        st.memory_sock = v[3];
        st.memory_shmem = v[4];
        st.memory_inactive_file = v[5];
        break;
      }
      case Stat::kMemStatV1: {
        // total_* are hierarchical (children included), like every v2 figure;
        // the bare keys count this cgroup alone and serve only as a fallback.
        static constexpr absl::string_view kKeys[] = {
            "total_rss", "total_cache", "total_shmem",         "rss",
            "cache",     "shmem",       "total_inactive_file", "inactive_file"};
        std::optional<uint64_t> v[8];
        ParseKeyedValues(c, kKeys, v, 8);
        st.memory_anon = v[0] ? v[0] : v[3];
        st.memory_file = v[1] ? v[1] : v[4];
        st.memory_shmem = v[2] ? v[2] : v[5];
        st.memory_inactive_file = v[6] ? v[6] : v[7];
        break;
      }
      case Stat::kMemEvents: {
        static constexpr absl::string_view kKeys[] = {"oom", "oom_kill"};
        std::optional<uint64_t> v[2];
        ParseKeyedValues(c, kKeys, v, 2);
        st.memory_oom_events = v[0];
        st.memory_oom_kill = v[1];
        break;
      }
      case Stat::kMemOomControl:
        // v1 has no count of OOM events (under_oom is a state), only of kills.
        st.memory_oom_kill = FindKeyedValue(c, "oom_kill");
        break;
      case Stat::kKmemUsageV1:
        st.memory_kernel = ParseSingleValue(c);
        break;
      case Stat::kKmemTcpUsageV1:
        st.memory_sock = ParseSingleValue(c);
        break;
      case Stat::kPidsCurrent:
        st.pids_current = ParseSingleValue(c);
        break;
      case Stat::kPidsMax:
        st.pids_max = ParseLimit(c);
        break;
      case Stat::kIoStat:
        st.io = ParseIoStat(c);
        break;
      case Stat::kBlkioBytes:
        MergeBlkioBytes(c, st.io);
        break;
      case Stat::kBlkioServiced:
        MergeBlkioServiced(c, st.io);
        break;
      case Stat::kCpuPressure:
        st.cpu_pressure = ParsePressure(c);
        break;
      case Stat::kMemPressure:
        st.memory_pressure = ParsePressure(c);
        break;
      case Stat::kIoPressure:
        st.io_pressure = ParsePressure(c);
        break;
    }
  }
  // Open() only builds readers with core sources, and each core parse above either
  // sets its flag or returns; this guards against a future edit breaking that.
  if (!have_cpu || !have_mem || !have_limit) {
    return absl::InternalError("cgroup stats reader has no core source");
  }
  return st;
}

}  // namespace zlayer::cgroups
