// Live tests on real runc containers (root). Each container gets its own runc
// --root in a temp dir and is deleted (runc delete -f) by RuncContainer's destructor,
// also when a REQUIRE fails half-way.
#include <poll.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/fs_util.h"
#include "cgroups/cpu_percent.h"
#include "cgroups/layout.h"
#include "cgroups/locate.h"
#include "cgroups/oom.h"
#include "cgroups/parse.h"
#include "cgroups/stats_reader.h"
#include "runc_container.h"
#include "support/test_support.h"

namespace zlayer::cgroups {
namespace {

using testing::RuncContainer;
using testing::RuncSpec;

constexpr uint64_t kMiB = 1 << 20;

RuncSpec Spec(std::vector<std::string> hog_args, uint64_t memory_limit = 0,
              int64_t pids_limit = 0, std::string cgroups_path = "") {
  RuncSpec spec;
  spec.hog_args = std::move(hog_args);
  spec.memory_limit = memory_limit;
  spec.pids_limit = pids_limit;
  spec.cgroups_path = std::move(cgroups_path);
  return spec;
}

bool Skip() {
  if (testing::IsRoot()) return false;
  WARN("skipped: runs runc containers, needs root");
  return true;
}

HostLayout Layout() {
  auto l = HostLayout::Detect();
  REQUIRE(l.ok());
  return *std::move(l);
}

std::unique_ptr<RuncContainer> Start(const RuncSpec& spec) {
  auto c = RuncContainer::Run(spec);
  REQUIRE(c.ok());
  REQUIRE((*c)->WaitReady(absl::Seconds(20)));
  return *std::move(c);
}

std::unique_ptr<StatsReader> OpenReader(const RuncContainer& c) {
  HostLayout layout = Layout();
  auto paths = LocateByPid(layout, c.pid());
  REQUIRE(paths.ok());
  INFO(DebugString(*paths));
  auto r = StatsReader::Open(*paths);
  REQUIRE(r.ok());
  return *std::move(r);
}

// What the kernel itself says about the memory controller's usage, read directly
// by path: memory.current on v2, memory.usage_in_bytes on v1.
uint64_t KernelMemoryBytes(const CgroupPaths& p) {
  auto v2 = base::ReadFile(p.unified + "/memory.current");
  auto text = v2.ok() ? v2 : base::ReadFile(p.memory + "/memory.usage_in_bytes");
  REQUIRE(text.ok());
  auto v = ParseSingleValue(*text);
  REQUIRE(v);
  return *v;
}

TEST_CASE("Live: cgroupsPath and /proc/PID/cgroup locate the same directories", "[root]") {
  if (Skip()) return;
  HostLayout layout = Layout();
  auto own = base::ReadFile("/proc/self/cgroup");  // runc inherits our cgroups
  REQUIRE(own.ok());
  std::string cgroups_path;
  SECTION("no cgroupsPath: the id, relative") {}
  SECTION("relative nested path") { cgroups_path = absl::StrCat("zcg-", ::getpid(), "/nested"); }
  SECTION("absolute path") { cgroups_path = absl::StrCat("/zcg-", ::getpid(), "/abs"); }
  CgroupPaths from_pid;
  std::string proc_cgroup;
  {
    auto c = Start(Spec({"mem", "0"}, 0, 0, cgroups_path));
    auto predicted = LocateByCgroupsPath(layout, cgroups_path, c->id(), *own);
    REQUIRE(predicted.ok());
    auto by_pid = LocateByPid(layout, c->pid());
    REQUIRE(by_pid.ok());
    INFO("predicted: " << DebugString(*predicted));
    INFO("by pid:    " << DebugString(*by_pid));
    CHECK(*predicted == *by_pid);
    from_pid = *by_pid;
    auto text = base::ReadFile(absl::StrCat("/proc/", c->pid(), "/cgroup"));
    REQUIRE(text.ok());
    proc_cgroup = *text;
  }
  if (!cgroups_path.empty()) testing::RemoveCgroupParents(proc_cgroup);
  // Every hierarchy's leaf went with the container.
  auto gone = StatsReader::Open(from_pid);
  CHECK(gone.status().code() == absl::StatusCode::kNotFound);
}

// Tolerance for the 64 MiB test, from what else the kernel charges to the cgroup
// between the two readings: page tables for 64 MiB (128 KiB), per-CPU charge
// batching (the counter may run up to 64 pages = 256 KiB per CPU ahead of the
// pages in use, in either reading) and kernel objects of the larger mapping (VMA,
// anon_vma). 2 MiB covers 2 CPUs' batches twice over plus page tables; a reading
// that missed the 64 MiB, or counted it twice, is far outside it.
constexpr uint64_t kTolerance = 2 * kMiB;

TEST_CASE("Live: a container touching 64 MiB shows it, and its limit", "[root]") {
  if (Skip()) return;
  const uint64_t limit = 256 * kMiB;
  // Same binary, same limit, no allocation: everything but the 64 MiB.
  auto idle = Start(Spec({"mem", "0"}, limit));
  auto idle_reader = OpenReader(*idle);
  auto base = idle_reader->Read();
  REQUIRE(base.ok());

  auto hog = Start(Spec({"mem", "64"}, limit));
  auto reader = OpenReader(*hog);
  auto s = reader->Read();
  REQUIRE(s.ok());
  const uint64_t kernel_says = KernelMemoryBytes(reader->paths());
  INFO("idle=" << base->memory_bytes << " hog=" << s->memory_bytes << " kernel=" << kernel_says
               << " mode=" << core::CgroupModeName(s->mode));

  CHECK(s->memory_bytes >= 64 * kMiB);
  CHECK(s->memory_bytes - base->memory_bytes >= 64 * kMiB - kTolerance);
  CHECK(s->memory_bytes - base->memory_bytes <= 64 * kMiB + kTolerance);
  // Read() and a direct read of the same file a moment later agree.
  CHECK(kernel_says >= s->memory_bytes - kTolerance);
  CHECK(kernel_says <= s->memory_bytes + kTolerance);
  REQUIRE(s->memory_anon);
  CHECK(*s->memory_anon >= 64 * kMiB);
  CHECK(*s->memory_anon <= 64 * kMiB + 4 * kMiB);
  // The limit is the one from the spec, exactly.
  CHECK(s->memory_limit == limit);
  CHECK(base->memory_limit == limit);
}

TEST_CASE("Live: no memory limit reads as 0 (unlimited)", "[root]") {
  if (Skip()) return;
  auto c = Start(Spec({"mem", "0"}));
  auto s = OpenReader(*c)->Read();
  REQUIRE(s.ok());
  CHECK(s->memory_limit == 0u);
}

TEST_CASE("Live: a CPU-burning container's usage grows between samples", "[root]") {
  if (Skip()) return;
  auto c = Start(Spec({"cpu"}));
  auto reader = OpenReader(*c);
  // Each timestamp is taken right before its Read(): cpu.stat is the first file
  // read, so both samples carry the same small lag (a Read() takes milliseconds in
  // the emulated test VM; stamping after it skewed the interval by 12 %).
  const absl::Time t1 = absl::Now();
  auto first = reader->Read();
  REQUIRE(first.ok());
  // Bounded: the counter moves within a scheduler tick once the hog is on a CPU.
  absl::StatusOr<core::CgroupStats> second;
  absl::Time t2;
  REQUIRE(testing::WaitFor(
      [&] {
        absl::SleepFor(absl::Milliseconds(500));
        t2 = absl::Now();
        second = reader->Read();
        return second.ok() && second->cpu_usage_usec > first->cpu_usage_usec + 50'000;
      },
      absl::Seconds(10)));
  auto pct = CpuPercent({first->cpu_usage_usec, t1}, {second->cpu_usage_usec, t2});
  REQUIRE(pct);
  INFO("cpu percent " << *pct << " over " << absl::FormatDuration(t2 - t1));
  CHECK(*pct > 0);
  // One spinning thread cannot use more than one core. The slack covers the lag
  // between each clock read and the kernel's cpu.stat snapshot, which may differ
  // by a scheduler tick or two (4-8 ms at HZ=250) between the samples: 5 % of a
  // 500 ms interval, doubled for emulated CPUs.
  CHECK(*pct <= 110.0);
  REQUIRE(second->cpu_user_usec);
  CHECK(*second->cpu_user_usec > 0);
}

TEST_CASE("Live: pids.current counts forked children", "[root]") {
  if (Skip()) return;
  auto c = Start(Spec({"fork", "5"}, 0, 50));
  auto reader = OpenReader(*c);
  absl::StatusOr<core::CgroupStats> s;
  // The hog signals ready after its forks, so 6 should already hold; the wait only
  // bounds a slow fork.
  CHECK(testing::WaitFor([&] {
    s = reader->Read();
    return s.ok() && s->pids_current == 6u;
  }));
  REQUIRE(s.ok());
  CHECK(s->pids_current == 6u);
  CHECK(s->pids_max == 50u);
}

TEST_CASE("Live: a deleted container reads NOT_FOUND through an open reader", "[root]") {
  if (Skip()) return;
  auto c = Start(Spec({"mem", "1"}));
  auto reader = OpenReader(*c);
  REQUIRE(reader->Read().ok());
  REQUIRE(c->Delete().ok());
  CHECK(reader->Read().status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("Live: an OOM kill is notified and counted", "[root]") {
  if (Skip()) return;
  // The hog (the container's init) waits for /go, then touches 64 MiB under a
  // 32 MiB limit and is killed. The watcher is armed before the go.
  auto c = Start(Spec({"oom", "64"}, 32 * kMiB));
  auto paths = LocateByPid(Layout(), c->pid());
  REQUIRE(paths.ok());
  auto watcher = OomWatcher::Create(*paths);
  REQUIRE(watcher.ok());
  INFO("watching " << (*watcher)->counter_file());
  CHECK((*watcher)->notifier() == (paths->memory.empty() ? OomNotifier::kInotify
                                                         : OomNotifier::kEventfd));
  CHECK((*watcher)->initial_count() == 0u);
  REQUIRE(base::WriteFileAtomic(c->rootfs() + "/go", "", 0644, false).ok());

  struct pollfd pfd = {(*watcher)->fd(), POLLIN, 0};
  REQUIRE(::poll(&pfd, 1, 10'000) == 1);
  // On v1 the eventfd fires when the cgroup enters OOM, before the kill is counted.
  absl::StatusOr<uint64_t> count;
  CHECK(testing::WaitFor([&] {
    count = (*watcher)->Check();
    return count.ok() && *count >= 1;
  }));
  REQUIRE(count.ok());
  CHECK(*count == 1u);
  CHECK(*ReadOomKillCount(*paths) == 1u);
  auto reader = StatsReader::Open(*paths);
  REQUIRE(reader.ok());
  auto stats = (*reader)->Read();
  REQUIRE(stats.ok());
  CHECK(stats->memory_oom_kill == 1u);
  CHECK(testing::WaitFor([&] {
    auto st = c->Status();
    return st.ok() && *st == "stopped";
  }));
  // Deleting the container removes the cgroup: the watcher then says NOT_FOUND.
  REQUIRE(c->Delete().ok());
  CHECK((*watcher)->Check().status().code() == absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace zlayer::cgroups
