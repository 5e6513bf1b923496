// Real kernels' cgroup files (tests/cgroups/fixtures, see its README): locate the
// container both ways, read it with both descriptor strategies, and check every
// field against the numbers in the captured files.
#include <unistd.h>

#include <catch2/catch.hpp>

#include "base/fs_util.h"
#include "cgroups/layout.h"
#include "cgroups/locate.h"
#include "cgroups/oom.h"
#include "cgroups/stats_reader.h"
#include "support/test_support.h"

namespace zlayer::cgroups {
namespace {

struct Fixture {
  std::string root;  // tests/cgroups/fixtures/<name>
  HostLayout layout;
  CgroupPaths paths;  // from proc_pid_cgroup
};

std::string ReadFixtureFile(const std::string& root, const std::string& file) {
  auto text = base::ReadFile(root + "/" + file);
  REQUIRE(text.ok());
  return *text;
}

Fixture Load(const std::string& name) {
  const std::string root = testing::SourcePath("tests/cgroups/fixtures/" + name);
  auto layout = HostLayout::FromMountinfo(ReadFixtureFile(root, "mountinfo"), root + "/fs");
  REQUIRE(layout.ok());
  auto paths = PathsFromProcCgroup(*layout, ReadFixtureFile(root, "proc_pid_cgroup"));
  REQUIRE(paths.ok());
  // The bundle's cgroupsPath, resolved by the runtime's rules, lands in the same place.
  auto predicted = LocateByCgroupsPath(*layout, ReadFixtureFile(root, "cgroups_path"), "cap",
                                       ReadFixtureFile(root, "runtime_cgroup"));
  REQUIRE(predicted.ok());
  INFO("from /proc/PID/cgroup: " << DebugString(*paths));
  INFO("from cgroupsPath:      " << DebugString(*predicted));
  CHECK(*predicted == *paths);
  return Fixture{root, *std::move(layout), *std::move(paths)};
}

// Descriptors a reader holds: with kept files, and with directories only.
struct Fds {
  size_t files = 0, dirs = 0;
};

core::CgroupStats ReadBothWays(const CgroupPaths& paths, std::string* describe = nullptr,
                               Fds* fds = nullptr) {
  auto cached = StatsReader::Open(paths, {.cache_file_fds = true});
  REQUIRE(cached.ok());
  auto dirs_only = StatsReader::Open(paths, {.cache_file_fds = false});
  REQUIRE(dirs_only.ok());
  CHECK((*dirs_only)->open_fds() < (*cached)->open_fds());
  auto a = (*cached)->Read();
  REQUIRE(a.ok());
  auto b = (*dirs_only)->Read();
  REQUIRE(b.ok());
  CHECK(a->cpu_usage_usec == b->cpu_usage_usec);
  CHECK(a->memory_bytes == b->memory_bytes);
  CHECK(a->memory_anon == b->memory_anon);
  CHECK(a->pids_current == b->pids_current);
  CHECK(a->io.size() == b->io.size());
  // A second read through kept descriptors gives the same answer (pread at 0).
  auto again = (*cached)->Read();
  REQUIRE(again.ok());
  CHECK(again->cpu_usage_usec == a->cpu_usage_usec);
  CHECK(again->memory_bytes == a->memory_bytes);
  if (describe != nullptr) *describe = (*cached)->Describe();
  if (fds != nullptr) *fds = {(*cached)->open_fds(), (*dirs_only)->open_fds()};
  return *std::move(a);
}

uint64_t TicksUsec(uint64_t ticks) { return ticks * (1000000 / ::sysconf(_SC_CLK_TCK)); }

TEST_CASE("Fixture: hybrid host (this machine, kernel 6.18)", "[unit]") {
  Fixture f = Load("hybrid");
  const std::string fs = f.root + "/fs/sys/fs/cgroup";
  CHECK(f.paths.mode == core::CgroupMode::kHybrid);
  CHECK(f.paths.unified == fs + "/unified/zlayer-fx/cap");
  CHECK(f.paths.cpu == fs + "/cpu/zlayer-fx/cap");
  CHECK(f.paths.cpuacct == fs + "/cpuacct/zlayer-fx/cap");
  // Nested under the capturing shell's own memory cgroup, unlike the others.
  CHECK(f.paths.memory ==
        fs + "/memory/process_api/98af76675d88bc3cc7af5e57658328ac/zlayer-fx/cap");
  CHECK(f.paths.pids == fs + "/pids/zlayer-fx/cap");
  CHECK(f.paths.blkio == fs + "/blkio/zlayer-fx/cap");

  std::string describe;
  Fds fds;
  core::CgroupStats s = ReadBothWays(f.paths, &describe, &fds);
  CHECK(describe == "cpu=unified throttling=v1 memory=v1 pids=v1 io=v1 pressure=unified");
  CHECK(fds.files == 21);  // 15 files + 6 directories (docs/stats.md)
  CHECK(fds.dirs == 6);
  CHECK(s.mode == core::CgroupMode::kHybrid);
  // unified cpu.stat
  CHECK(s.cpu_usage_usec == 2468976);
  CHECK(s.cpu_user_usec == 1237745u);
  CHECK(s.cpu_system_usec == 1231231u);
  // v1 cpu.stat (throttled_time is in ns there)
  CHECK(s.cpu_nr_periods == 123u);
  CHECK(s.cpu_nr_throttled == 120u);
  CHECK(s.cpu_throttled_usec == 9777058u);
  // v1 memory
  CHECK(s.memory_bytes == 8990720);
  CHECK(s.memory_limit == 64u << 20);
  CHECK(s.memory_anon == 8241152u);  // total_rss
  CHECK(s.memory_file == 4096u);     // total_cache
  CHECK(s.memory_inactive_file == 4096u);  // total_inactive_file
  CHECK(s.memory_shmem == 0u);
  CHECK(s.memory_kernel == 405504u);  // memory.kmem.usage_in_bytes
  CHECK(s.memory_sock == 0u);         // memory.kmem.tcp.usage_in_bytes
  CHECK(s.memory_oom_kill == 1u);
  CHECK_FALSE(s.memory_oom_events);  // v1 has no such counter
  CHECK(s.pids_current == 3u);
  CHECK(s.pids_max == 64u);
  CHECK(s.io.empty());  // "Total 0": blk-throttle counted nothing (see fixtures/README)
  REQUIRE(s.cpu_pressure);
  REQUIRE(s.cpu_pressure->some);
  CHECK(s.cpu_pressure->some->avg10 == Approx(34.72));
  CHECK(s.cpu_pressure->some->total_usec == 7223822u);
  CHECK(s.cpu_pressure->full->total_usec == 6747933u);
  REQUIRE(s.memory_pressure);
  CHECK(s.memory_pressure->some->total_usec == 1511u);
  REQUIRE(s.io_pressure);
  CHECK(s.io_pressure->full->total_usec == 1136u);

  CHECK(*OomKillCounterFile(f.paths) == f.paths.memory + "/memory.oom_control");
  CHECK(*ReadOomKillCount(f.paths) == 1u);
}

TEST_CASE("Fixture: pure v2 host (Debian 6.1 VM, systemd 252)", "[unit]") {
  Fixture f = Load("v2");
  CHECK(f.paths.mode == core::CgroupMode::kV2);
  CHECK(f.paths.unified == f.root + "/fs/sys/fs/cgroup/system.slice/zlayer-fx/cap");
  CHECK(f.paths.memory.empty());
  CHECK(f.paths.cpu.empty());

  std::string describe;
  Fds fds;
  core::CgroupStats s = ReadBothWays(f.paths, &describe, &fds);
  CHECK(describe ==
        "cpu=unified throttling=unified memory=unified pids=unified io=unified "
        "pressure=unified");
  CHECK(fds.files == 12);  // 11 files + 1 directory
  CHECK(fds.dirs == 1);
  CHECK(s.mode == core::CgroupMode::kV2);
  CHECK(s.cpu_usage_usec == 14885818);
  CHECK(s.cpu_user_usec == 5711001u);
  CHECK(s.cpu_system_usec == 9174816u);
  CHECK(s.cpu_nr_periods == 720u);
  CHECK(s.cpu_nr_throttled == 707u);
  CHECK(s.cpu_throttled_usec == 93627328u);
  CHECK(s.memory_bytes == 10416128);
  CHECK(s.memory_limit == 64u << 20);
  CHECK(s.memory_anon == 8245248u);
  CHECK(s.memory_file == 1769472u);
  CHECK(s.memory_inactive_file == 843776u);
  CHECK(s.memory_kernel == 401408u);
  CHECK(s.memory_sock == 0u);
  CHECK(s.memory_shmem == 0u);
  CHECK(s.memory_oom_events == 1u);
  CHECK(s.memory_oom_kill == 1u);
  CHECK(s.pids_current == 3u);
  CHECK(s.pids_max == 64u);
  REQUIRE(s.io.size() == 1);
  CHECK(s.io[0].major == 254);
  CHECK(s.io[0].minor == 0);
  CHECK(s.io[0].rbytes == 15683584u);
  CHECK(s.io[0].wbytes == 4u << 20);  // the workload's 4 MiB O_DIRECT write
  CHECK(s.io[0].rios == 242u);
  CHECK(s.io[0].wios == 4u);
  REQUIRE(s.cpu_pressure);
  CHECK(s.cpu_pressure->some->avg10 == Approx(40.83));
  CHECK(s.cpu_pressure->some->total_usec == 47798141u);
  CHECK(s.cpu_pressure->full->total_usec == 45190349u);
  CHECK(s.memory_pressure->some->total_usec == 2709289u);
  CHECK(s.io_pressure->some->total_usec == 172675u);
  CHECK(s.io_pressure->full->total_usec == 76086u);

  CHECK(*OomKillCounterFile(f.paths) == f.paths.unified + "/memory.events");
  CHECK(*ReadOomKillCount(f.paths) == 1u);
}

TEST_CASE("Fixture: pure v1 host (Debian 6.1 VM, systemd legacy mode)", "[unit]") {
  Fixture f = Load("v1");
  const std::string fs = f.root + "/fs/sys/fs/cgroup";
  const std::string svc = "/system.slice/vm-run.service/zlayer-fx/cap";
  CHECK(f.paths.mode == core::CgroupMode::kV1);
  CHECK(f.paths.unified.empty());
  CHECK(f.paths.cpu == fs + "/cpu,cpuacct" + svc);
  CHECK(f.paths.cpuacct == f.paths.cpu);
  CHECK(f.paths.memory == fs + "/memory" + svc);
  CHECK(f.paths.pids == fs + "/pids" + svc);
  CHECK(f.paths.blkio == fs + "/blkio/zlayer-fx/cap");  // systemd left blkio at the top

  std::string describe;
  Fds fds;
  core::CgroupStats s = ReadBothWays(f.paths, &describe, &fds);
  CHECK(describe == "cpu=v1 throttling=v1 memory=v1 pids=v1 io=v1 pressure=none");
  CHECK(fds.files == 17);  // 13 files + 4 directories (cpu,cpuacct shared)
  CHECK(fds.dirs == 4);
  CHECK(s.mode == core::CgroupMode::kV1);
  CHECK(s.cpu_usage_usec == 18860120);  // cpuacct.usage ns / 1000
  CHECK(s.cpu_user_usec == TicksUsec(604));
  CHECK(s.cpu_system_usec == TicksUsec(1281));
  CHECK(s.cpu_nr_periods == 933u);
  CHECK(s.cpu_nr_throttled == 916u);
  CHECK(s.cpu_throttled_usec == 118984711u);
  CHECK(s.memory_bytes == 10457088);
  CHECK(s.memory_limit == 64u << 20);
  CHECK(s.memory_anon == 8237056u);
  CHECK(s.memory_file == 1802240u);
  CHECK(s.memory_inactive_file == 839680u);  // total_inactive_file
  CHECK(s.memory_shmem == 0u);
  CHECK(s.memory_kernel == 417792u);
  CHECK(s.memory_sock == 0u);
  CHECK(s.memory_oom_kill == 1u);
  CHECK_FALSE(s.memory_oom_events);
  CHECK(s.pids_current == 3u);
  CHECK(s.pids_max == 64u);
  REQUIRE(s.io.size() == 1);  // the device is listed, with zeros (see fixtures/README)
  CHECK(s.io[0].major == 254);
  CHECK(s.io[0].wbytes == 0u);
  CHECK_FALSE(s.cpu_pressure);
  CHECK_FALSE(s.memory_pressure);
  CHECK_FALSE(s.io_pressure);

  CHECK(*OomKillCounterFile(f.paths) == f.paths.memory + "/memory.oom_control");
  CHECK(*ReadOomKillCount(f.paths) == 1u);
}

}  // namespace
}  // namespace zlayer::cgroups
