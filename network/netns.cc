#include "network/netns.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/errors.h"

namespace zlayer::network {

bool IsNetns(const std::string& path) {
  struct statfs fs;
  return ::statfs(path.c_str(), &fs) == 0 && fs.f_type == NSFS_MAGIC;
}

namespace {

// Brings up `lo` of the calling thread's network namespace.
absl::Status LoopbackUp() {
  const int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return core::ErrnoError("socket for lo");
  struct ifreq request = {};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  absl::Status status;
  if (::ioctl(sock, SIOCGIFFLAGS, &request) != 0) {
    status = core::ErrnoError("SIOCGIFFLAGS lo");
  } else {
    request.ifr_flags |= IFF_UP;
    if (::ioctl(sock, SIOCSIFFLAGS, &request) != 0) status = core::ErrnoError("bring lo up");
  }
  ::close(sock);
  return status;
}

}  // namespace

absl::Status CreateNetns(const std::string& path) {
  if (IsNetns(path)) return absl::AlreadyExistsError(absl::StrCat("network namespace ", path));
  const int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return core::ErrnoError(absl::StrCat("create ", path));
  ::close(fd);
  // unshare(CLONE_NEWNET) moves only the calling thread: a short-lived thread of
  // our own leaves every other thread (gRPC's included) where it was.
  absl::Status status;
  std::thread worker([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      status = core::ErrnoError("unshare(CLONE_NEWNET)");
      return;
    }
    // Loopback up here, in-process, rather than by CNI's loopback plugin: one
    // plugin process less on every start, and every namespace this agent makes
    // has a working lo whatever network it then joins.
    if (auto up = LoopbackUp(); !up.ok()) {
      status = up;
      return;
    }
    const std::string self = absl::StrCat("/proc/self/task/", ::gettid(), "/ns/net");
    if (::mount(self.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      status = core::ErrnoError(absl::StrCat("bind ", self, " to ", path));
    }
  });
  worker.join();
  if (!status.ok()) ::unlink(path.c_str());
  return status;
}

absl::Status RemoveNetns(const std::string& path) {
  if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    return core::ErrnoError(absl::StrCat("unmount ", path));
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return core::ErrnoError(absl::StrCat("remove ", path));
  }
  return absl::OkStatus();
}

}  // namespace zlayer::network
