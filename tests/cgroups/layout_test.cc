// Host layout and cgroup location: mountinfo parsing, /proc/PID/cgroup parsing, and
// the runtime's cgroupsPath rules as measured with runc 1.1.5.
#include <unistd.h>

#include <catch2/catch.hpp>

#include "base/fs_util.h"
#include "cgroups/layout.h"
#include "cgroups/locate.h"
#include "support/test_support.h"

namespace zlayer::cgroups {
namespace {

std::string Fixture(const std::string& name, const std::string& file) {
  auto text = base::ReadFile(testing::SourcePath("tests/cgroups/fixtures/" + name + "/" + file));
  REQUIRE(text.ok());
  return *text;
}

// This host's mountinfo (hybrid), as copied into the hybrid fixture.
HostLayout HybridLayout(const std::string& sysroot = "") {
  auto l = HostLayout::FromMountinfo(Fixture("hybrid", "mountinfo"), sysroot);
  REQUIRE(l.ok());
  return *std::move(l);
}

TEST_CASE("Mode and mounts come from mountinfo", "[unit]") {
  SECTION("hybrid") {
    HostLayout l = HybridLayout("/root");
    CHECK(l.mode() == core::CgroupMode::kHybrid);
    REQUIRE(l.unified() != nullptr);
    CHECK(l.unified()->mount_point == "/root/sys/fs/cgroup/unified");
    REQUIRE(l.V1Mount("memory") != nullptr);
    CHECK(l.V1Mount("memory")->mount_point == "/root/sys/fs/cgroup/memory");
    CHECK(l.V1Mount("cpuacct")->mount_point == "/root/sys/fs/cgroup/cpuacct");
    CHECK(l.V1Mount("systemd") == nullptr);  // a named hierarchy, not a controller
  }
  SECTION("v2") {
    auto l = HostLayout::FromMountinfo(Fixture("v2", "mountinfo"));
    REQUIRE(l.ok());
    CHECK(l->mode() == core::CgroupMode::kV2);
    CHECK(l->unified()->mount_point == "/sys/fs/cgroup");
    CHECK(l->V1Mount("memory") == nullptr);
  }
  SECTION("v1 with co-mounted cpu,cpuacct") {
    auto l = HostLayout::FromMountinfo(Fixture("v1", "mountinfo"));
    REQUIRE(l.ok());
    CHECK(l->mode() == core::CgroupMode::kV1);
    CHECK(l->unified() == nullptr);
    REQUIRE(l->V1Mount("cpu") != nullptr);
    CHECK(l->V1Mount("cpu") == l->V1Mount("cpuacct"));
    CHECK(l->V1Mount("cpu")->mount_point == "/sys/fs/cgroup/cpu,cpuacct");
    CHECK(l->V1Mount("misc") != nullptr);
  }
  SECTION("v2 at /sys/fs/cgroup stays v2 next to a stray v1 mount") {
    auto l = HostLayout::FromMountinfo(
        "31 22 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
        "50 22 0:40 / /run/net_cls rw - cgroup cgroup rw,net_cls\n");
    REQUIRE(l.ok());
    CHECK(l->mode() == core::CgroupMode::kV2);
    CHECK(l->V1Mount("net_cls") != nullptr);
  }
  SECTION("escaped mount points and no cgroup mounts") {
    auto l = HostLayout::FromMountinfo(
        "40 30 0:37 / /mnt/my\\040cgroups rw,relatime - cgroup2 cgroup2 rw\n");
    REQUIRE(l.ok());
    CHECK(l->unified()->mount_point == "/mnt/my cgroups");
    auto none = HostLayout::FromMountinfo("22 1 8:1 / / rw - ext4 /dev/vda rw\n");
    CHECK(none.status().code() == absl::StatusCode::kInvalidArgument);
  }
}

TEST_CASE("DetectMode agrees with this host's mountinfo", "[unit]") {
  auto l = HostLayout::Detect();
  REQUIRE(l.ok());
  const core::CgroupMode detected = DetectMode();
  INFO("statfs says " << core::CgroupModeName(detected) << ", mountinfo says "
                      << core::CgroupModeName(l->mode()));
  CHECK(detected == l->mode());
  CHECK(DetectMode("/nonexistent") == core::CgroupMode::kUnknown);
  CHECK(DetectMode("/proc") == core::CgroupMode::kUnknown);
}

TEST_CASE("DirFor strips the mount's root and rejects escapes", "[unit]") {
  CgroupMount m{"/sys/fs/cgroup/memory", "/docker/abc", {"memory"}, false};
  CHECK(*HostLayout::DirFor(m, "/docker/abc/x") == "/sys/fs/cgroup/memory/x");
  CHECK(*HostLayout::DirFor(m, "/docker/abc") == "/sys/fs/cgroup/memory");
  CHECK(HostLayout::DirFor(m, "/docker/abcd/x").status().code() ==
        absl::StatusCode::kNotFound);
  CHECK(HostLayout::DirFor(m, "/elsewhere").status().code() == absl::StatusCode::kNotFound);
  CgroupMount root{"/sys/fs/cgroup/", "/", {}, true};
  CHECK(*HostLayout::DirFor(root, "/a/b") == "/sys/fs/cgroup/a/b");
  CHECK(HostLayout::DirFor(root, "/a/../../etc").status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(HostLayout::DirFor(root, "relative").status().code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE("ParseProcCgroup splits co-mounted controllers", "[unit]") {
  auto p = ParseProcCgroup(Fixture("v1", "proc_pid_cgroup"));
  REQUIRE(p.ok());
  CHECK_FALSE(p->unified);  // pure v1: cgroup2 never mounted, no 0:: line
  REQUIRE(p->V1Path("cpu") != nullptr);
  CHECK(*p->V1Path("cpu") == "/system.slice/vm-run.service/zlayer-fx/cap");
  CHECK(*p->V1Path("cpuacct") == *p->V1Path("cpu"));
  CHECK(*p->V1Path("net_prio") == "/zlayer-fx/cap");
  CHECK(*p->V1Path("name=systemd") == "/system.slice/vm-run.service/zlayer-fx/cap");
  auto colon = ParseProcCgroup("0::/a:b\n");
  REQUIRE(colon.ok());
  CHECK(*colon->unified == "/a:b");
  CHECK(ParseProcCgroup("garbage\n").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ParseProcCgroup("1:cpu:relative\n").status().code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE("A process at the root of every hierarchy is not in a container", "[unit]") {
  HostLayout l = HybridLayout();
  auto paths = PathsFromProcCgroup(l, "4:memory:/\n1:cpu:/\n0::/\n");
  CHECK(paths.status().code() == absl::StatusCode::kFailedPrecondition);
  SECTION("a root path is dropped per controller, never read as the container's") {
    auto some = PathsFromProcCgroup(l, "4:memory:/x\n1:cpu:/\n0::/\n");
    REQUIRE(some.ok());
    CHECK(some->memory == "/sys/fs/cgroup/memory/x");
    CHECK(some->cpu.empty());
    CHECK(some->unified.empty());
  }
}

TEST_CASE("Hierarchies the process shares with the caller are not its own", "[unit]") {
  HostLayout l = HybridLayout();
  // A runtime that left the container in the agent's unified cgroup: reading it
  // would report the agent's CPU as the container's.
  const char* container = "4:memory:/agent/c1\n1:cpu:/c1\n0::/agent.scope\n";
  const char* agent = "4:memory:/agent\n1:cpu:/\n0::/agent.scope\n";
  auto p = PathsFromProcCgroup(l, container, agent);
  REQUIRE(p.ok());
  CHECK(p->unified.empty());
  CHECK(p->memory == "/sys/fs/cgroup/memory/agent/c1");
  CHECK(p->cpu == "/sys/fs/cgroup/cpu/c1");
  CHECK(PathsFromProcCgroup(l, agent, agent).status().code() ==
        absl::StatusCode::kFailedPrecondition);
  SECTION("LocateByPid applies it to itself") {
    CHECK(LocateByPid(l, ::getpid()).status().code() ==
          absl::StatusCode::kFailedPrecondition);
    CHECK(LocateByPid(l, 999999999).status().code() == absl::StatusCode::kNotFound);
  }
}

TEST_CASE("CleanCgroupPath follows runc's CleanPath", "[unit]") {
  CHECK(CleanCgroupPath("") == "");
  CHECK(CleanCgroupPath("a/./b/") == "a/b");
  CHECK(CleanCgroupPath("../../esc/c") == "esc/c");
  CHECK(CleanCgroupPath("/abs/../b") == "/b");
  CHECK(CleanCgroupPath("/../..") == "/");
  CHECK(CleanCgroupPath("..") == ".");
}

// Measured on this host with runc 1.1.5: the runc process ran in unified
// /zt-own/sub, pids /zt-p, memory /process_api/98af...; every other hierarchy at /.
TEST_CASE("LocateByCgroupsPath matches runc 1.1.5 on a hybrid host", "[unit]") {
  HostLayout l = HybridLayout();
  const std::string mem = "/sys/fs/cgroup/memory/process_api/98af76675d88bc3cc7af5e57658328ac";
  const char* runtime =
      "9:name=systemd:/\n8:pids:/zt-p\n7:blkio:/\n6:freezer:/\n5:devices:/\n"
      "4:memory:/process_api/98af76675d88bc3cc7af5e57658328ac\n3:cpuset:/\n"
      "2:cpuacct:/\n1:cpu:/\n0::/zt-own/sub\n";
  SECTION("relative: v1 below the runtime's cgroups, unified from the top") {
    auto p = LocateByCgroupsPath(l, "rel/a", "ignored", runtime);
    REQUIRE(p.ok());
    CHECK(p->mode == core::CgroupMode::kHybrid);
    CHECK(p->unified == "/sys/fs/cgroup/unified/rel/a");
    CHECK(p->pids == "/sys/fs/cgroup/pids/zt-p/rel/a");
    CHECK(p->memory == mem + "/rel/a");
    CHECK(p->cpu == "/sys/fs/cgroup/cpu/rel/a");
    CHECK(p->cpuacct == "/sys/fs/cgroup/cpuacct/rel/a");
    CHECK(p->blkio == "/sys/fs/cgroup/blkio/rel/a");
  }
  SECTION("absolute: every hierarchy from the top") {
    auto p = LocateByCgroupsPath(l, "/abs/b", "ignored", runtime);
    REQUIRE(p.ok());
    CHECK(p->unified == "/sys/fs/cgroup/unified/abs/b");
    CHECK(p->pids == "/sys/fs/cgroup/pids/abs/b");
    CHECK(p->memory == "/sys/fs/cgroup/memory/abs/b");
  }
  SECTION("'..' cannot climb out") {
    auto p = LocateByCgroupsPath(l, "../../esc/c", "ignored", runtime);
    REQUIRE(p.ok());
    CHECK(p->unified == "/sys/fs/cgroup/unified/esc/c");
    CHECK(p->pids == "/sys/fs/cgroup/pids/zt-p/esc/c");
    CHECK(p->memory == mem + "/esc/c");
  }
  SECTION("no cgroupsPath: the container id, relative") {
    auto p = LocateByCgroupsPath(l, "", "cap2", runtime);
    REQUIRE(p.ok());
    CHECK(p->unified == "/sys/fs/cgroup/unified/cap2");
    CHECK(p->memory == mem + "/cap2");
  }
  SECTION("nothing to name") {
    CHECK(LocateByCgroupsPath(l, "", "", runtime).status().code() ==
          absl::StatusCode::kInvalidArgument);
    CHECK(LocateByCgroupsPath(l, "/", "x", runtime).status().code() ==
          absl::StatusCode::kInvalidArgument);
  }
}

TEST_CASE("LocateByCgroupsPath on v2 steps up from the runtime's cgroup", "[unit]") {
  auto l = HostLayout::FromMountinfo(Fixture("v2", "mountinfo"));
  REQUIRE(l.ok());
  const char* runtime = "0::/system.slice/vm-run.service\n";
  auto rel = LocateByCgroupsPath(*l, "zlayer-fx/cap", "x", runtime);
  REQUIRE(rel.ok());
  CHECK(rel->unified == "/sys/fs/cgroup/system.slice/zlayer-fx/cap");
  CHECK(rel->memory.empty());
  auto abs = LocateByCgroupsPath(*l, "/zlayer/x", "x", runtime);
  REQUIRE(abs.ok());
  CHECK(abs->unified == "/sys/fs/cgroup/zlayer/x");
}

}  // namespace
}  // namespace zlayer::cgroups
