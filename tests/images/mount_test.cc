// Container rootfs mounts: overlayfs with whiteouts honoured, the copy fallback,
// long layer lists, and busybox built with umoci and pushed with skopeo.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <functional>

#include "absl/strings/str_cat.h"
#include "base/fs_util.h"
#include "base/process.h"
#include "base/unique_fd.h"
#include "store_helpers.h"

namespace zlayer::images {
namespace {

using namespace zlayer::images::testing;  // NOLINT

bool Exists(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

absl::StatusOr<core::ImportResult> ImportImage(ImageStore& store, const std::string& ref,
                                               const BuiltImage& img) {
  const std::string tar = OciLayoutTar({{&img, ""}});
  base::UniqueFd fd(::memfd_create("layout", MFD_CLOEXEC));
  if (::write(fd.get(), tar.data(), tar.size()) != static_cast<ssize_t>(tar.size())) {
    return absl::InternalError("write");
  }
  ::lseek(fd.get(), 0, SEEK_SET);
  return store.ImportImage(ref, fd.get());
}

BuiltImage WhiteoutImage() {
  return ImageBuilder()
      .Layer({TarEntry::Dir("a"), TarEntry::File("a/file1", "1"), TarEntry::File("a/file2", "2"),
              TarEntry::Dir("dir"), TarEntry::File("dir/x", "x"), TarEntry::File("dir/y", "y"),
              TarEntry::File("top", "old")})
      .Layer({TarEntry::File("a/.wh.file1", ""), TarEntry::Dir("dir"),
              TarEntry::File("dir/.wh..wh..opq", ""), TarEntry::File("dir/z", "z"),
              TarEntry::File("top", "new")})
      .Build();
}

TEST_CASE("a rootfs mounts with whiteouts and opaque directories honoured", "[root]") {
  if (!zlayer::testing::IsRoot()) {
    WARN("needs root to mount");
    return;
  }
  auto dir = zlayer::testing::MakeTempDir();
  auto store = OpenStore(dir.path() + "/s");
  REQUIRE(ImportImage(*store, "example.com/w:1", WhiteoutImage()).ok());
  auto img = store->Resolve("example.com/w:1");
  REQUIRE(img.ok());
  const std::string c = dir.path() + "/c";
  const std::string upper = c + "/upper", work = c + "/work", target = c + "/rootfs";
  const MountMode mode = GENERATE(MountMode::kOverlayOnly, MountMode::kCopyOnly);
  INFO("mode " << static_cast<int>(mode));
  REQUIRE(MountRootfs(img->layer_dirs, upper, work, target, mode).ok());
  CHECK_FALSE(Exists(target + "/a/file1"));  // whited out
  CHECK(*base::ReadFile(target + "/a/file2") == "2");
  CHECK_FALSE(Exists(target + "/dir/x"));  // opaque directory hides the lower ones
  CHECK_FALSE(Exists(target + "/dir/y"));
  CHECK(*base::ReadFile(target + "/dir/z") == "z");
  CHECK(*base::ReadFile(target + "/top") == "new");
  // The container writes to its own upper directory; the snapshots stay untouched.
  REQUIRE(base::WriteFileAtomic(target + "/a/file2", "changed", 0644, false).ok());
  CHECK(*base::ReadFile(upper + "/a/file2") == "changed");
  CHECK(*base::ReadFile(img->layer_dirs[0] + "/a/file2") == "2");
  REQUIRE(UnmountRootfs(target).ok());
  CHECK_FALSE(Exists(target + "/a"));
  CHECK(UnmountRootfs(target).ok());  // nothing mounted: fine
  CHECK(UnmountRootfs(dir.path() + "/never-existed").ok());
  if (mode == MountMode::kCopyOnly) {
    // A remount (container restart) keeps the container's changes.
    REQUIRE(MountRootfs(img->layer_dirs, upper, work, target, mode).ok());
    CHECK(*base::ReadFile(target + "/a/file2") == "changed");
    REQUIRE(UnmountRootfs(target).ok());
  }
  CHECK(MountRootfs({}, upper, work, target).code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("images with many layers still mount", "[root]") {
  if (!zlayer::testing::IsRoot()) {
    WARN("needs root to mount");
    return;
  }
  auto dir = zlayer::testing::MakeTempDir();
  // A long store root makes the absolute lowerdir list far longer than a page.
  const std::string root = dir.path() + "/" + std::string(60, 'r') + "/" + std::string(60, 's');
  auto store = OpenStore(root);
  ImageBuilder b;
  constexpr int kLayers = 120;
  for (int i = 0; i < kLayers; ++i) {
    b.Layer({TarEntry::File(absl::StrCat("f", i), absl::StrCat(i)),
             TarEntry::File("latest", absl::StrCat(i))},
            Compression::kNone);
  }
  REQUIRE(ImportImage(*store, "example.com/many:1", b.Build()).ok());
  auto img = store->Resolve("example.com/many:1");
  REQUIRE(img.ok());
  REQUIRE(img->layer_dirs.size() == kLayers);
  size_t total = 0;
  for (const auto& d : img->layer_dirs) total += d.size() + 1;
  CHECK(total > 4096);
  const std::string target = dir.path() + "/rootfs";
  REQUIRE(MountRootfs(img->layer_dirs, dir.path() + "/u", dir.path() + "/w", target,
                      MountMode::kOverlayOnly)
              .ok());
  CHECK(*base::ReadFile(target + "/f0") == "0");
  CHECK(*base::ReadFile(target + "/f119") == "119");
  CHECK(*base::ReadFile(target + "/latest") == "119");
  char cwd[4096];
  CHECK(std::string(::getcwd(cwd, sizeof cwd)) != root + "/snapshots");  // ours untouched
  REQUIRE(UnmountRootfs(target).ok());
}

TEST_CASE("busybox built with umoci, pushed with skopeo, pulled and run from overlay",
          "[integration][root]") {
  if (!zlayer::testing::IsRoot()) {
    WARN("needs root to mount and chroot");
    return;
  }
  TestRegistry reg;
  auto dir = zlayer::testing::MakeTempDir();
  const std::string d = dir.path();
  const std::string layout = d + "/layout";
  Run({"umoci", "init", "--layout", layout});
  Run({"umoci", "new", "--image", layout + ":latest"});
  // Each repack stacks on the manifest the bundle was unpacked from, so unpack
  // afresh for each layer.
  auto layer = [&](const std::string& name, const std::function<void(const std::string&)>& edit) {
    const std::string bundle = d + "/" + name;
    Run({"umoci", "unpack", "--image", layout + ":latest", bundle});
    edit(bundle + "/rootfs");
    Run({"umoci", "repack", "--image", layout + ":latest", bundle});
  };
  layer("b1", [&](const std::string& rootfs) {
    REQUIRE(base::MakeDirs(rootfs + "/bin").ok());
    Run({"cp", "/bin/busybox", rootfs + "/bin/busybox"});
    REQUIRE(::symlink("busybox", (rootfs + "/bin/sh").c_str()) == 0);
  });
  layer("b2", [&](const std::string& rootfs) {
    REQUIRE(base::WriteFileAtomic(rootfs + "/etc-marker", "x", 0644, false).ok());
  });
  // A layer that deletes a file of the one below: a whiteout written by a real tool.
  layer("b3", [&](const std::string& rootfs) {
    REQUIRE(::unlink((rootfs + "/etc-marker").c_str()) == 0);
  });
  Run({"umoci", "config", "--image", layout + ":latest", "--config.cmd", "/bin/sh"});
  Run({"skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false", "oci:" + layout + ":latest",
       "docker://" + reg.host() + "/test/busybox:latest"});

  auto store = OpenStore(d + "/store");
  const std::string ref = reg.host() + "/test/busybox";
  ProgressLog log;
  auto r = store->PullImage(Req(ref), log.fn);
  REQUIRE(r.ok());
  auto img = store->Resolve(ref);
  REQUIRE(img.ok());
  CHECK(img->layer_dirs.size() == 3);
  CHECK(img->config.cmd == std::vector<std::string>{"/bin/sh"});
  const std::string target = d + "/rootfs";
  REQUIRE(MountRootfs(img->layer_dirs, d + "/upper", d + "/work", target).ok());
  CHECK_FALSE(Exists(target + "/etc-marker"));
  base::RunOptions ro;
  ro.argv = {"/usr/sbin/chroot", target, "/bin/sh", "-c", "busybox echo hello from busybox"};
  ro.env = {"PATH=/bin"};
  auto out = base::RunCommand(ro);
  REQUIRE(out.ok());
  CHECK(out->out == "hello from busybox\n");
  REQUIRE(UnmountRootfs(target).ok());
}

}  // namespace
}  // namespace zlayer::images
