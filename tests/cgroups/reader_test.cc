// StatsReader against damaged input: malformed files, missing files, directories
// removed under it (copies of the fixtures), and real cgroups removed mid-read.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "base/fs_util.h"
#include "cgroups/cpu_percent.h"
#include "cgroups/layout.h"
#include "cgroups/locate.h"
#include "cgroups/oom.h"
#include "cgroups/stats_reader.h"
#include "support/test_support.h"

namespace zlayer::cgroups {
namespace {

namespace fs = std::filesystem;

// A writable copy of fixture `name` and its located paths.
struct Copy {
  base::TempDir dir;
  CgroupPaths paths;
};

Copy CopyFixture(const std::string& name) {
  const std::string src = testing::SourcePath("tests/cgroups/fixtures/" + name);
  base::TempDir dir = testing::MakeTempDir("zcgfx-");
  fs::copy(src, dir.path(), fs::copy_options::recursive);
  auto mountinfo = base::ReadFile(dir.path() + "/mountinfo");
  REQUIRE(mountinfo.ok());
  auto layout = HostLayout::FromMountinfo(*mountinfo, dir.path() + "/fs");
  REQUIRE(layout.ok());
  auto proc = base::ReadFile(dir.path() + "/proc_pid_cgroup");
  REQUIRE(proc.ok());
  auto paths = PathsFromProcCgroup(*layout, *proc);
  REQUIRE(paths.ok());
  return Copy{std::move(dir), *std::move(paths)};
}

void Write(const std::string& path, const std::string& content) {
  REQUIRE(base::WriteFileAtomic(path, content, 0644, false).ok());
}

TEST_CASE("Malformed core files fail the read with INTERNAL, quoting the file", "[unit]") {
  Copy c = CopyFixture("v2");
  bool cache = GENERATE(true, false);
  SECTION("memory.current") {
    Write(c.paths.unified + "/memory.current", "garbage\n");
  }
  SECTION("cpu.stat without usage_usec") {
    Write(c.paths.unified + "/cpu.stat", "user_usec 1\nsystem_usec 2\n");
  }
  SECTION("memory.max") {
    Write(c.paths.unified + "/memory.max", "lots\n");
  }
  SECTION("an empty file") {
    Write(c.paths.unified + "/memory.current", "");
  }
  auto r = StatsReader::Open(c.paths, {.cache_file_fds = cache});
  REQUIRE(r.ok());
  auto s = (*r)->Read();
  CHECK(s.status().code() == absl::StatusCode::kInternal);
  CHECK(s.status().message().find(c.paths.unified) != std::string::npos);
}

TEST_CASE("Malformed or missing extras are left unset, the core still reads", "[unit]") {
  Copy c = CopyFixture("v2");
  const std::string& u = c.paths.unified;
  Write(u + "/pids.current", "many\n");
  Write(u + "/memory.stat", "anon x\nfile 4096\nfuture_key 1\n\nkernel\n");
  Write(u + "/cpu.pressure", "some avg10=oops\n");
  REQUIRE(::unlink((u + "/io.stat").c_str()) == 0);
  REQUIRE(::unlink((u + "/memory.events").c_str()) == 0);
  auto r = StatsReader::Open(c.paths);
  REQUIRE(r.ok());
  auto s = (*r)->Read();
  REQUIRE(s.ok());
  CHECK(s->cpu_usage_usec == 14885818);
  CHECK(s->memory_bytes == 10416128);
  CHECK_FALSE(s->pids_current);
  CHECK(s->pids_max == 64u);
  CHECK_FALSE(s->memory_anon);
  CHECK(s->memory_file == 4096u);
  CHECK_FALSE(s->memory_kernel);
  CHECK_FALSE(s->cpu_pressure);
  CHECK(s->memory_pressure);
  CHECK(s->io.empty());
  CHECK_FALSE(s->memory_oom_kill);
}

TEST_CASE("Without a memory controller there is no snapshot", "[unit]") {
  Copy c = CopyFixture("v1");
  REQUIRE(::unlink((c.paths.memory + "/memory.usage_in_bytes").c_str()) == 0);
  auto r = StatsReader::Open(c.paths);
  CHECK(r.status().code() == absl::StatusCode::kFailedPrecondition);
  CgroupPaths cpu_only;
  cpu_only.mode = core::CgroupMode::kV1;
  cpu_only.cpu = c.paths.cpu;
  CHECK(OomKillCounterFile(cpu_only).status().code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("Opening a cgroup that does not exist is NOT_FOUND", "[unit]") {
  Copy c = CopyFixture("hybrid");
  fs::remove_all(c.paths.memory);
  CHECK(StatsReader::Open(c.paths).status().code() == absl::StatusCode::kNotFound);
  CHECK(ReadOomKillCount(c.paths).status().code() == absl::StatusCode::kNotFound);
}

// On a plain filesystem an unlinked file stays readable through an open descriptor,
// so only the directory-descriptor strategy can observe these removals here; the
// [root] test below removes real cgroups, which fail kept descriptors too.
TEST_CASE("A directory removed after Open makes Read NOT_FOUND", "[unit]") {
  Copy c = CopyFixture("hybrid");
  auto r = StatsReader::Open(c.paths, {.cache_file_fds = false});
  REQUIRE(r.ok());
  REQUIRE((*r)->Read().ok());
  SECTION("the v1 memory directory, read after the unified cpu.stat") {
    fs::remove_all(c.paths.memory);
  }
  SECTION("the unified directory") { fs::remove_all(c.paths.unified); }
  auto s = (*r)->Read();
  CHECK(s.status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("A core file vanishing from a live directory is FAILED_PRECONDITION", "[unit]") {
  Copy c = CopyFixture("v2");
  auto r = StatsReader::Open(c.paths, {.cache_file_fds = false});
  REQUIRE(r.ok());
  SECTION("core: the controller was disabled") {
    REQUIRE(::unlink((c.paths.unified + "/memory.current").c_str()) == 0);
    CHECK((*r)->Read().status().code() == absl::StatusCode::kFailedPrecondition);
  }
  SECTION("extra: dropped from the snapshot") {
    REQUIRE(::unlink((c.paths.unified + "/pids.current").c_str()) == 0);
    auto s = (*r)->Read();
    REQUIRE(s.ok());
    CHECK_FALSE(s->pids_current);
  }
}

TEST_CASE("CpuPercent: 100 % is one core", "[unit]") {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  CpuSample a{1'000'000, t0};
  CHECK(*CpuPercent(a, {1'500'000, t0 + absl::Seconds(1)}) == Approx(50.0));
  CHECK(*CpuPercent(a, {3'000'000, t0 + absl::Seconds(1)}) == Approx(200.0));
  CHECK(*CpuPercent(a, {1'000'000, t0 + absl::Milliseconds(250)}) == Approx(0.0));
  CHECK(*CpuPercent(a, {1'025'000, t0 + absl::Milliseconds(250)}) == Approx(10.0));
  CHECK_FALSE(CpuPercent(a, {2'000'000, t0}));                       // no interval
  CHECK_FALSE(CpuPercent(a, {2'000'000, t0 - absl::Seconds(1)}));    // reversed
  CHECK_FALSE(CpuPercent(a, {999'999, t0 + absl::Seconds(1)}));      // counter reset
}

// Real cgroups, made by the test in every hierarchy the reader uses, then removed
// under an open reader. Removal through the kernel fails kept file descriptors with
// ENODEV and lookups in the removed directories with ENOENT.
class ScratchCgroups {
 public:
  explicit ScratchCgroups(const HostLayout& layout) : layout_(layout) {
    const std::string name = absl::StrCat("/zcg-scratch-", ::getpid());
    auto own = base::ReadFile("/proc/self/cgroup");
    REQUIRE(own.ok());
    // Absolute: one level below each hierarchy's root (on hybrid the memory
    // hierarchy's root is writable too; nesting under our own cgroup is not needed).
    auto p = LocateByCgroupsPath(layout, name, "", *own);
    REQUIRE(p.ok());
    paths_ = *p;
    for (const std::string* d : All()) {
      if (d->empty()) continue;
      REQUIRE((::mkdir(d->c_str(), 0755) == 0 || errno == EEXIST));
    }
  }
  ~ScratchCgroups() {
    for (const std::string* d : All()) {
      if (!d->empty()) ::rmdir(d->c_str());
    }
  }
  const CgroupPaths& paths() const { return paths_; }
  std::vector<const std::string*> All() const {
    return {&paths_.unified, &paths_.cpu,  &paths_.cpuacct,
            &paths_.memory,  &paths_.pids, &paths_.blkio};
  }

 private:
  const HostLayout& layout_;
  CgroupPaths paths_;
};

TEST_CASE("A real cgroup removed under a reader gives NOT_FOUND, never zeros", "[root]") {
  if (!testing::IsRoot()) {
    WARN("skipped: needs root to create cgroups");
    return;
  }
  auto layout = HostLayout::Detect();
  REQUIRE(layout.ok());
  bool cache = GENERATE(true, false);
  INFO("cache_file_fds=" << cache);
  ScratchCgroups cg(*layout);
  auto r = StatsReader::Open(cg.paths(), {.cache_file_fds = cache});
  REQUIRE(r.ok());
  auto before = (*r)->Read();
  REQUIRE(before.ok());  // an empty cgroup reads fine: real zeros
  auto watcher = OomWatcher::Create(cg.paths());
  REQUIRE(watcher.ok());
  CHECK((*watcher)->initial_count() == 0u);

  SECTION("one controller's directory goes first (mid-read on hybrid)") {
    const std::string victim =
        cg.paths().memory.empty() ? cg.paths().unified : cg.paths().memory;
    REQUIRE(::rmdir(victim.c_str()) == 0);
    CHECK((*r)->Read().status().code() == absl::StatusCode::kNotFound);
    CHECK((*watcher)->Check().status().code() == absl::StatusCode::kNotFound);
  }
  SECTION("all go, and a new cgroup of the same name is not mistaken for it") {
    for (const std::string* d : cg.All()) {
      if (!d->empty()) REQUIRE(::rmdir(d->c_str()) == 0);
    }
    CHECK((*r)->Read().status().code() == absl::StatusCode::kNotFound);
    for (const std::string* d : cg.All()) {
      if (!d->empty()) REQUIRE(::mkdir(d->c_str(), 0755) == 0);
    }
    CHECK((*r)->Read().status().code() == absl::StatusCode::kNotFound);
    auto fresh = StatsReader::Open(cg.paths(), {.cache_file_fds = cache});
    REQUIRE(fresh.ok());
    CHECK((*fresh)->Read().ok());
  }
}

}  // namespace
}  // namespace zlayer::cgroups
