// Container rootfs mounts: overlayfs over the layer snapshots, with a copying
// fallback for hosts where overlayfs cannot be used.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "base/fs_util.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "core/errors.h"
#include "images/image_store.h"
#include "images/rootfs_copy.h"

namespace zlayer::images {
namespace {

// mount(2) copies at most one page of options.
constexpr size_t kMaxMountData = 4095;

// overlayfs splits lowerdir on ':' and options on ','; a backslash escapes both.
std::string EscapeOverlayPath(const std::string& p) {
  std::string out;
  for (char c : p) {
    if (c == ':' || c == ',' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::string Dirname(const std::string& p) {
  const size_t slash = p.rfind('/');
  return slash == std::string::npos || slash == 0 ? "/" : p.substr(0, slash);
}

std::string Basename(const std::string& p) {
  const size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::string OverlayData(const std::vector<std::string>& lowers_top_first, const std::string& upper,
                        const std::string& work) {
  std::string lower;
  for (const auto& l : lowers_top_first) {
    if (!lower.empty()) lower.push_back(':');
    lower += EscapeOverlayPath(l);
  }
  return absl::StrCat("lowerdir=", lower, ",upperdir=", EscapeOverlayPath(upper),
                      ",workdir=", EscapeOverlayPath(work));
}

// Returns errno (0 on success).
int MountOverlay(const std::vector<std::string>& bottom_first, const std::string& upper,
                 const std::string& work, const std::string& target, std::string* detail) {
  std::vector<std::string> top_first(bottom_first.rbegin(), bottom_first.rend());
  std::string data = OverlayData(top_first, upper, work);
  if (data.size() <= kMaxMountData) {
    *detail = "absolute lowerdirs";
    return ::mount("overlay", target.c_str(), "overlay", 0, data.c_str()) == 0 ? 0 : errno;
  }
  // Too long: name the layers relative to their common directory. The working
  // directory is per process, so do it on a thread that has unshared its fs
  // context (CLONE_FS): other threads' relative paths are untouched.
  const std::string parent = Dirname(bottom_first.front());
  std::vector<std::string> rel;
  for (const auto& l : top_first) {
    if (Dirname(l) != parent) return E2BIG;
    rel.push_back(Basename(l));
  }
  data = OverlayData(rel, upper, work);
  if (data.size() > kMaxMountData) return E2BIG;
  *detail = "relative lowerdirs";
  int err = 0;
  std::thread t([&] {
    if (::unshare(CLONE_FS) != 0 || ::chdir(parent.c_str()) != 0) {
      err = errno;
      return;
    }
    if (::mount("overlay", target.c_str(), "overlay", 0, data.c_str()) != 0) err = errno;
  });
  t.join();
  return err;
}

}  // namespace

absl::Status MountRootfs(const std::vector<std::string>& layers, const std::string& upper,
                         const std::string& work, const std::string& target, MountMode mode) {
  if (layers.empty()) {
    return absl::InvalidArgumentError("image has no layers; there is no rootfs to mount");
  }
  for (const auto* p : {&upper, &work, &target}) {
    if (p->empty() || p->front() != '/') {
      return absl::InvalidArgumentError(absl::StrCat("mount path \"", *p, "\" is not absolute"));
    }
  }
  AGENTD_RETURN_IF_ERROR(base::MakeDirs(upper, 0755));
  AGENTD_RETURN_IF_ERROR(base::MakeDirs(work, 0700));
  AGENTD_RETURN_IF_ERROR(base::MakeDirs(target, 0755));
  auto log = base::Logger("images");
  if (mode != MountMode::kCopyOnly) {
    std::string how;
    const int err = MountOverlay(layers, upper, work, target, &how);
    if (err == 0) return absl::OkStatus();
    const absl::Status s = core::ErrnoStatus(
        err, absl::StrCat("mount overlay at ", target, " (", layers.size(), " layers, ", how, ")"));
    // ENODEV: no overlayfs. EINVAL: upper/work on a filesystem overlay refuses
    // (e.g. overlay on overlay). Anything else is a real error.
    if (mode == MountMode::kOverlayOnly || (err != ENODEV && err != EINVAL)) return s;
    log->warn("overlayfs unavailable, copying layers target={} error={}", target, s);
  }
  AGENTD_RETURN_IF_ERROR(CopyLayersInto(layers, upper, work));
  if (::mount(upper.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    return core::ErrnoError(absl::StrCat("bind mount ", upper, " at ", target));
  }
  return absl::OkStatus();
}

absl::Status UnmountRootfs(const std::string& target) {
  if (::umount2(target.c_str(), UMOUNT_NOFOLLOW) == 0) return absl::OkStatus();
  if (errno == EINVAL || errno == ENOENT) return absl::OkStatus();  // not mounted
  if (errno == EBUSY) {
    // Something still has it open (a process in the container's mount namespace
    // that has not exited yet): detach now, the kernel frees it when unused.
    if (::umount2(target.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0) return absl::OkStatus();
  }
  return core::ErrnoError(absl::StrCat("unmount ", target));
}

}  // namespace zlayer::images
