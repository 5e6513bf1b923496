#include <catch2/catch.hpp>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs_util.h"
#include "support/test_support.h"

using namespace zlayer;

TEST_CASE("WriteFileAtomic replaces content and mode", "[unit]") {
  auto dir = testing::MakeTempDir();
  const std::string path = dir.path() + "/state.json";
  REQUIRE(base::WriteFileAtomic(path, "one", 0600).ok());
  REQUIRE(base::WriteFileAtomic(path, "two", 0600).ok());
  CHECK(*base::ReadFile(path) == "two");
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  SECTION("no temp files are left behind") {
    CHECK(base::DiskUsage(dir.path()) > 0);
    int entries = 0;
    for (const char* name : {"state.json"}) entries += ::access((dir.path() + "/" + name).c_str(), F_OK) == 0;
    CHECK(entries == 1);
  }
}

TEST_CASE("ReadFile reports a missing file as NOT_FOUND", "[unit]") {
  auto r = base::ReadFile("/nonexistent/zlayer/file");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("RemoveTree deletes a tree but never follows symlinks", "[unit]") {
  auto outside = testing::MakeTempDir("zt-outside-");
  const std::string precious = outside.path() + "/precious";
  REQUIRE(base::WriteFileAtomic(precious, "keep me").ok());
  auto dir = testing::MakeTempDir();
  REQUIRE(base::MakeDirs(dir.path() + "/a/b/c").ok());
  REQUIRE(base::WriteFileAtomic(dir.path() + "/a/b/c/f", "x").ok());
  REQUIRE(::symlink(outside.path().c_str(), (dir.path() + "/a/link").c_str()) == 0);
  REQUIRE(base::RemoveTree(dir.path() + "/a").ok());
  CHECK(::access((dir.path() + "/a").c_str(), F_OK) != 0);
  CHECK(*base::ReadFile(precious) == "keep me");
  CHECK(base::RemoveTree(dir.path() + "/missing").ok());
}

TEST_CASE("RemoveTree refuses to descend into a mount point", "[root]") {
  if (!testing::IsRoot()) {
    WARN("skipped: needs root to mount");
    return;
  }
  auto dir = testing::MakeTempDir();
  const std::string mnt = dir.path() + "/tree/mnt";
  REQUIRE(base::MakeDirs(mnt).ok());
  REQUIRE(::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=1m") == 0);
  REQUIRE(base::WriteFileAtomic(mnt + "/inside", "data").ok());
  auto s = base::RemoveTree(dir.path() + "/tree");
  CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(*base::ReadFile(mnt + "/inside") == "data");
  REQUIRE(::umount2(mnt.c_str(), MNT_DETACH) == 0);
  CHECK(base::RemoveTree(dir.path() + "/tree").ok());
}

TEST_CASE("TempDir removes itself", "[unit]") {
  std::string path;
  {
    auto dir = testing::MakeTempDir();
    path = dir.path();
    REQUIRE(base::WriteFileAtomic(path + "/f", "x").ok());
  }
  CHECK(::access(path.c_str(), F_OK) != 0);
}
