// The hardened unpacker on its own: what a layer becomes, and what it may not do.
// The same hostile layers go through a real registry in pull_test.cc.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "base/fs_util.h"
#include "base/unique_fd.h"
#include "images/digest.h"
#include "images/unpack.h"
#include "oci_builder.h"
#include "support/test_support.h"

namespace zlayer::images {
namespace {

using testing::Compression;
using testing::TarEntry;

struct Env {
  base::TempDir dir = zlayer::testing::MakeTempDir("zunp-");
  std::string victim = dir.path() + "/victim";  // what a hostile layer aims at
  std::string target = dir.path() + "/snap";
  Env() {
    REQUIRE(base::MakeDirs(victim).ok());
    REQUIRE(base::MakeDirs(target).ok());
  }
  absl::StatusOr<UnpackResult> Unpack(const std::string& blob, UnpackOptions o = {}) {
    const std::string path = dir.path() + "/blob";
    REQUIRE(base::WriteFileAtomic(path, blob, 0600, false).ok());
    base::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    return UnpackLayer(fd.get(), target, o);
  }
  bool VictimEmpty() const {
    auto entries = ::opendir(victim.c_str());
    int n = 0;
    while (auto* e = ::readdir(entries)) n += std::string(e->d_name) != "." && std::string(e->d_name) != "..";
    ::closedir(entries);
    return n == 0;
  }
};

bool Exists(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

TEST_CASE("a layer unpacks with modes, owners, times, xattrs, links and whiteouts",
          "[unit][root]") {
  if (!zlayer::testing::IsRoot()) { WARN("needs root for chown, mknod and trusted xattrs"); return; }
  Env env;
  TarEntry suid = TarEntry::File("bin/tool", "#!/bin/sh\n", 04755);
  suid.uid = 1000;
  suid.gid = 2000;
  suid.mtime = 1111111111;
  suid.xattrs["user.origin"] = "test";
  TarEntry dir = TarEntry::Dir("etc", 0750);
  dir.mtime = 1222222222;
  TarEntry fifo;
  fifo.type = TarEntry::Type::kFifo;
  fifo.path = "run/pipe";
  const std::string tar = testing::MakeTar({
      TarEntry::Dir("bin"), suid, dir, TarEntry::File("etc/hosts", "127.0.0.1 x\n"),
      TarEntry::Symlink("etc/link", "/etc/hosts"), TarEntry::Hardlink("bin/tool2", "bin/tool"),
      TarEntry::File("gone/.wh.victim", ""), TarEntry::File("opaque/.wh..wh..opq", ""),
      TarEntry::File("opaque/kept", "k"), fifo,
      TarEntry::File("./etc/./replaced", "first"), TarEntry::File("etc/replaced", "second"),
  });
  for (auto c : {Compression::kNone, Compression::kGzip, Compression::kZstd}) {
    DYNAMIC_SECTION("compression " << static_cast<int>(c)) {
      auto r = env.Unpack(testing::Compress(tar, c));
      REQUIRE(r.ok());
      CHECK(r->diff_id == DigestOf(tar));
      CHECK(r->tar_bytes == tar.size());
      const std::string t = env.target;
      struct stat st;
      REQUIRE(::lstat((t + "/bin/tool").c_str(), &st) == 0);
      CHECK((st.st_mode & 07777) == 04755);
      CHECK(st.st_uid == 1000);
      CHECK(st.st_gid == 2000);
      CHECK(st.st_mtime == 1111111111);
      CHECK(st.st_nlink == 2);
      char v[16] = {};
      CHECK(::getxattr((t + "/bin/tool").c_str(), "user.origin", v, sizeof v) == 4);
      REQUIRE(::lstat((t + "/etc").c_str(), &st) == 0);
      CHECK((st.st_mode & 07777) == 0750);
      CHECK(st.st_mtime == 1222222222);  // set after its children were written
      char link[64] = {};
      CHECK(::readlink((t + "/etc/link").c_str(), link, sizeof link) == 10);
      CHECK(std::string(link) == "/etc/hosts");
      REQUIRE(::lstat((t + "/gone/victim").c_str(), &st) == 0);
      CHECK(S_ISCHR(st.st_mode));
      CHECK(st.st_rdev == makedev(0, 0));
      CHECK_FALSE(Exists(t + "/gone/.wh.victim"));
      char o[2] = {};
      CHECK(::getxattr((t + "/opaque").c_str(), "trusted.overlay.opaque", o, 2) == 1);
      CHECK(o[0] == 'y');
      CHECK_FALSE(Exists(t + "/opaque/.wh..wh..opq"));
      CHECK(Exists(t + "/opaque/kept"));
      REQUIRE(::lstat((t + "/run/pipe").c_str(), &st) == 0);
      CHECK(S_ISFIFO(st.st_mode));
      CHECK(*base::ReadFile(t + "/etc/replaced") == "second");
    }
  }
}

TEST_CASE("hostile layers are refused and write nothing outside the snapshot", "[unit][root]") {
  if (!zlayer::testing::IsRoot()) { WARN("needs root"); return; }
  Env env;
  const std::string v = env.victim;
  struct Case {
    const char* name;
    std::vector<TarEntry> entries;
    std::string reason;
  };
  TarEntry dev;
  dev.type = TarEntry::Type::kChar;
  dev.path = "dev/null";
  dev.dev_major = 1;
  dev.dev_minor = 3;
  TarEntry blk = dev;
  blk.type = TarEntry::Type::kBlock;
  blk.path = "dev/sda";
  blk.dev_major = 8;
  blk.dev_minor = 0;
  const std::vector<Case> cases = {
      {"dotdot", {TarEntry::File("../../victim/pwned", "x")}, "\"..\" component"},
      {"dotdot inside", {TarEntry::File("a/../../victim/pwned", "x")}, "\"..\" component"},
      {"absolute", {TarEntry::File(v + "/pwned", "x")}, "absolute path"},
      {"symlink then write through it",
       {TarEntry::Symlink("escape", v), TarEntry::File("escape/pwned", "x")},
       "symlink planted earlier"},
      {"relative symlink then write through it",
       {TarEntry::Dir("d"), TarEntry::Symlink("d/up", "../../victim"),
        TarEntry::File("d/up/pwned", "x")},
       "symlink planted earlier"},
      {"symlink dir then mkdir through it",
       {TarEntry::Symlink("escape", v), TarEntry::Dir("escape/sub")}, "symlink planted earlier"},
      {"hardlink outside", {TarEntry::Hardlink("link", "../victim/file")}, "leaves the layer"},
      {"hardlink absolute", {TarEntry::Hardlink("link", "/etc/passwd")}, "leaves the layer"},
      {"hardlink to missing", {TarEntry::Hardlink("link", "etc/shadow")}, "not in this layer"},
      {"hardlink through symlink",
       {TarEntry::Symlink("s", "/etc"), TarEntry::Hardlink("link", "s/passwd")},
       "symlink planted earlier"},
      {"char device", {dev}, "character device 1:3"},
      {"absurdly deep path", {TarEntry::File([] {
                                std::string p;
                                for (int i = 0; i < 1100; ++i) p += "d/";
                                return p + "f";
                              }(), "x")},
       "deeper than 1024"},
      {"block device", {blk}, "block device 8:0"},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      auto r = env.Unpack(testing::Compress(testing::MakeTar(c.entries), Compression::kGzip));
      REQUIRE_FALSE(r.ok());
      CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
      CHECK_THAT(std::string(r.status().message()), Catch::Contains(c.reason));
      CHECK(env.VictimEmpty());
      CHECK_FALSE(Exists("/etc/pwned"));
    }
  }
  SECTION("a later entry replacing a planted symlink replaces it, never follows it") {
    auto r = env.Unpack(testing::MakeTar(
        {TarEntry::Symlink("f", v + "/target"), TarEntry::File("f", "mine")}));
    REQUIRE(r.ok());
    CHECK(env.VictimEmpty());
    CHECK(*base::ReadFile(env.target + "/f") == "mine");
  }
  SECTION("devices pass when allowed") {
    UnpackOptions o;
    o.allow_devices = true;
    REQUIRE(env.Unpack(testing::MakeTar({dev}), o).ok());
    struct stat st;
    REQUIRE(::lstat((env.target + "/dev/null").c_str(), &st) == 0);
    CHECK(st.st_rdev == makedev(1, 3));
  }
  SECTION("a symlink in a lower layer is not written through") {
    const std::string lower = env.dir.path() + "/lower";
    REQUIRE(base::MakeDirs(lower).ok());
    REQUIRE(::symlink(v.c_str(), (lower + "/escape").c_str()) == 0);
    UnpackOptions o;
    o.lower_dirs = {lower};
    auto r = env.Unpack(testing::MakeTar({TarEntry::File("escape/pwned", "x")}), o);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(std::string(r.status().message()), Catch::Contains("symlink in a lower layer"));
    CHECK(env.VictimEmpty());
    // An explicit directory entry replaces the lower symlink: that is fine.
    REQUIRE(base::RemoveTree(env.target).ok());
    REQUIRE(base::MakeDirs(env.target).ok());
    REQUIRE(env.Unpack(testing::MakeTar({TarEntry::Dir("escape"),
                                         TarEntry::File("escape/ok", "x")}),
                       o)
                .ok());
    CHECK(env.VictimEmpty());
  }
  SECTION("a lower symlink hidden by an opaque directory above it does not count") {
    const std::string bottom = env.dir.path() + "/bottom", middle = env.dir.path() + "/middle";
    REQUIRE(base::MakeDirs(bottom + "/d").ok());
    REQUIRE(::symlink(v.c_str(), (bottom + "/d/link").c_str()) == 0);
    REQUIRE(base::MakeDirs(middle + "/d").ok());
    REQUIRE(::setxattr((middle + "/d").c_str(), "trusted.overlay.opaque", "y", 1, 0) == 0);
    UnpackOptions o;
    o.lower_dirs = {middle, bottom};  // top first
    REQUIRE(env.Unpack(testing::MakeTar({TarEntry::File("d/link/file", "x")}), o).ok());
    CHECK(env.VictimEmpty());
    o.lower_dirs = {bottom};  // without the opaque layer the symlink shows through
    REQUIRE(base::RemoveTree(env.target).ok());
    REQUIRE(base::MakeDirs(env.target).ok());
    CHECK_FALSE(env.Unpack(testing::MakeTar({TarEntry::File("d/link/file", "x")}), o).ok());
    CHECK(env.VictimEmpty());
  }
  SECTION("the decompressed size is bounded") {
    UnpackOptions o;
    o.max_bytes = 1 << 20;
    const std::string tar = testing::MakeTar({TarEntry::File("zeros", std::string(4 << 20, '\0'))});
    const std::string blob = testing::Compress(tar, Compression::kGzip);
    CHECK(blob.size() < 64 * 1024);  // a small download...
    auto r = env.Unpack(blob, o);    // ...that would expand 4 MiB
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == absl::StatusCode::kResourceExhausted);
    CHECK_THAT(std::string(r.status().message()), Catch::Contains("max_layer_bytes"));
  }
  SECTION("garbage is not a layer") {
    auto r = env.Unpack(testing::Compress("this is not a tar archive, just text", Compression::kGzip));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace zlayer::images
