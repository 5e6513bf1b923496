// The monitor's own delete of a stopped runc container (runtime_cleanup.h): which
// states it trusts itself with, and that it removes nested cgroups and the state
// directory. The end-to-end check (nothing left after a real container) is in
// tests/oci/lifecycle_test.cc.
#include <catch2/catch.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/fs_util.h"
#include "runtimes/oci/monitor/runtime_cleanup.h"
#include "support/test_support.h"

using zlayer::monitor::CgroupPathsToRemove;
using zlayer::monitor::CleanupResult;
using zlayer::monitor::DeleteStoppedContainer;

namespace {

// The shape of runc 1.1's state.json, trimmed to the keys that matter.
std::string RuncState(const std::string& cgroup_paths, const std::string& pid_ns_path = "",
                      const std::string& poststop = "null", const std::string& rdt = "") {
  return absl::StrCat(
      R"({"id":"c1","init_process_pid":42,"config":{"namespaces":[{"type":"NEWPID","path":")",
      pid_ns_path, R"("},{"type":"NEWNET","path":""}],"Hooks":{"poststart":null,"poststop":)",
      poststop, R"(}},"cgroup_paths":{)", cgroup_paths, R"(},"intel_rdt_path":")", rdt, R"("})");
}

}  // namespace

TEST_CASE("the monitor deletes only runc states it fully understands", "[unit]") {
  std::vector<std::string> paths;
  SECTION("hybrid v1 paths, cpu and cpuacct sharing a directory, the unified one too") {
    REQUIRE(CgroupPathsToRemove(
        RuncState(R"("":"/sys/fs/cgroup/unified/z/c1","cpu":"/sys/fs/cgroup/cpu,cpuacct/z/c1",)"
                  R"("cpuacct":"/sys/fs/cgroup/cpu,cpuacct/z/c1","memory":"/sys/fs/cgroup/memory/z/c1")"),
        &paths));
    CHECK(paths == std::vector<std::string>{"/sys/fs/cgroup/unified/z/c1",
                                            "/sys/fs/cgroup/cpu,cpuacct/z/c1",
                                            "/sys/fs/cgroup/memory/z/c1"});
  }
  SECTION("pure v2") {
    REQUIRE(CgroupPathsToRemove(RuncState(R"("":"/sys/fs/cgroup/zlayer/c1")"), &paths));
    CHECK(paths == std::vector<std::string>{"/sys/fs/cgroup/zlayer/c1"});
  }
  const std::string ok_paths = R"("":"/sys/fs/cgroup/zlayer/c1")";
  SECTION("left to the runtime") {
    // crun and youki: no cgroup_paths.
    CHECK_FALSE(CgroupPathsToRemove(R"({"id":"c1","status":"stopped","use_systemd":false})", &paths));
    CHECK_FALSE(CgroupPathsToRemove("", &paths));
    CHECK_FALSE(CgroupPathsToRemove(RuncState(""), &paths));
    // Poststop hooks must run; an RDT group must go; without a private pid
    // namespace processes may remain and runc kills them.
    CHECK_FALSE(CgroupPathsToRemove(RuncState(ok_paths, "", R"([{"path":"/bin/true"}])"), &paths));
    CHECK_FALSE(CgroupPathsToRemove(RuncState(ok_paths, "", "null", "/sys/fs/resctrl/c1"), &paths));
    CHECK_FALSE(CgroupPathsToRemove(RuncState(ok_paths, "/proc/1/ns/pid"), &paths));
    // Paths outside the cgroup mounts, climbing out, escaped, or a mount itself.
    CHECK_FALSE(CgroupPathsToRemove(RuncState(R"("":"/etc/c1")"), &paths));
    CHECK_FALSE(CgroupPathsToRemove(RuncState(R"("":"/sys/fs/cgroup/../../etc")"), &paths));
    CHECK_FALSE(CgroupPathsToRemove(RuncState(R"("":"/sys/fs/cgroup/a\"b")"), &paths));
    CHECK_FALSE(CgroupPathsToRemove(RuncState(R"("":"/sys/fs/cgroup/")"), &paths));
    // Truncated.
    CHECK_FALSE(CgroupPathsToRemove(R"({"cgroup_paths":{"":"/sys/fs/cgroup/zlayer/c1")", &paths));
  }
  SECTION("poststop written as an empty list is no hook") {
    CHECK(CgroupPathsToRemove(RuncState(ok_paths, "", "[]"), &paths));
  }
}

TEST_CASE("the monitor's delete removes nested cgroups and the runtime's state", "[unit][root]") {
  const std::string hierarchy = "/sys/fs/cgroup/pids";
  struct stat st;
  if (!zlayer::testing::IsRoot() || ::stat(hierarchy.c_str(), &st) != 0 ||
      ::access((hierarchy + "/cgroup.procs").c_str(), W_OK) != 0) {
    WARN("skipped: needs root and a writable v1 pids hierarchy");
    return;
  }
  auto runtime_root = zlayer::testing::MakeTempDir();
  const std::string cgroup = absl::StrCat(hierarchy, "/zlayer-unit-", ::getpid());
  REQUIRE(::mkdir(cgroup.c_str(), 0755) == 0);
  REQUIRE(::mkdir((cgroup + "/inner").c_str(), 0755) == 0);  // made by the container
  REQUIRE(::mkdir((runtime_root.path() + "/c1").c_str(), 0700) == 0);
  REQUIRE(zlayer::base::WriteFileAtomic(runtime_root.path() + "/c1/state.json",
                                        RuncState(absl::StrCat(R"("pids":")", cgroup, R"(")")),
                                        0600)
              .ok());
  const CleanupResult result = DeleteStoppedContainer(runtime_root.path(), "c1");
  const bool cgroup_left = ::stat(cgroup.c_str(), &st) == 0;
  if (cgroup_left) {
    ::rmdir((cgroup + "/inner").c_str());
    ::rmdir(cgroup.c_str());
  }
  CHECK(result == CleanupResult::kDeleted);
  CHECK_FALSE(cgroup_left);
  CHECK(::stat((runtime_root.path() + "/c1").c_str(), &st) != 0);

  SECTION("a state it does not understand is left for the runtime, untouched") {
    REQUIRE(::mkdir((runtime_root.path() + "/c2").c_str(), 0700) == 0);
    REQUIRE(zlayer::base::WriteFileAtomic(runtime_root.path() + "/c2/state.json",
                                          R"({"status":"stopped"})", 0600)
                .ok());
    CHECK(DeleteStoppedContainer(runtime_root.path(), "c2") == CleanupResult::kUseRuntime);
    CHECK(::stat((runtime_root.path() + "/c2/state.json").c_str(), &st) == 0);
  }
}
