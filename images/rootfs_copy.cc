#include "images/rootfs_copy.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/fs_util.h"
#include "base/status_macros.h"
#include "base/unique_fd.h"
#include "core/errors.h"

namespace zlayer::images {
namespace {

using base::UniqueFd;

constexpr char kMarker[] = "/.zlayer-copied";

std::string ProcPath(int dirfd, const std::string& name) {
  return absl::StrCat("/proc/self/fd/", dirfd, "/", name);
}

bool IsOpaque(int dirfd, const std::string& name) {
  char v[2];
  const ssize_t n = ::lgetxattr(ProcPath(dirfd, name).c_str(), "trusted.overlay.opaque", v, 2);
  return n == 1 && v[0] == 'y';
}

absl::Status RemoveAt(int dirfd, const std::string& name, const struct stat& st) {
  if (S_ISDIR(st.st_mode)) return base::RemoveTree(ProcPath(dirfd, name));
  if (::unlinkat(dirfd, name.c_str(), 0) != 0) return core::ErrnoError("unlink " + name);
  return absl::OkStatus();
}

absl::Status CopyXattrs(int sdir, int ddir, const std::string& name) {
  const std::string src = ProcPath(sdir, name);
  const std::string dst = ProcPath(ddir, name);
  const ssize_t len = ::llistxattr(src.c_str(), nullptr, 0);
  if (len <= 0) return absl::OkStatus();
  std::string names(static_cast<size_t>(len), '\0');
  const ssize_t got = ::llistxattr(src.c_str(), names.data(), names.size());
  if (got <= 0) return absl::OkStatus();
  names.resize(static_cast<size_t>(got));
  for (absl::string_view key : absl::StrSplit(names, '\0', absl::SkipEmpty())) {
    if (absl::StartsWith(key, "trusted.overlay.")) continue;
    const std::string k(key);
    const ssize_t vlen = ::lgetxattr(src.c_str(), k.c_str(), nullptr, 0);
    if (vlen < 0) continue;
    std::string value(static_cast<size_t>(vlen), '\0');
    const ssize_t vgot = ::lgetxattr(src.c_str(), k.c_str(), value.data(), value.size());
    if (vgot < 0) continue;
    if (::lsetxattr(dst.c_str(), k.c_str(), value.data(), static_cast<size_t>(vgot), 0) != 0 &&
        errno != ENOTSUP && errno != EPERM) {
      return core::ErrnoError(absl::StrCat("setxattr ", k, " on ", name));
    }
  }
  return absl::OkStatus();
}

absl::Status CopyMeta(int sdir, int ddir, const std::string& name, const struct stat& st) {
  if (::fchownat(ddir, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0) {
    return core::ErrnoError("chown " + name);
  }
  // Only nodes this function just created, never symlinks: fchmodat is safe.
  if (!S_ISLNK(st.st_mode) && ::fchmodat(ddir, name.c_str(), st.st_mode & 07777, 0) != 0) {
    return core::ErrnoError("chmod " + name);
  }
  AGENTD_RETURN_IF_ERROR(CopyXattrs(sdir, ddir, name));
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::utimensat(ddir, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
    return core::ErrnoError("set times of " + name);
  }
  return absl::OkStatus();
}

absl::Status CopyData(int sdir, int ddir, const std::string& name) {
  UniqueFd in(::openat(sdir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!in) return core::ErrnoError("open " + name);
  UniqueFd out(::openat(ddir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                        0600));
  if (!out) return core::ErrnoError("create " + name);
  for (;;) {
    const ssize_t n = ::copy_file_range(in.get(), nullptr, out.get(), nullptr, 1 << 30, 0);
    if (n == 0) break;
    if (n > 0) continue;
    if (errno == EINTR) continue;
    if (errno != EXDEV && errno != ENOSYS && errno != EOPNOTSUPP && errno != EINVAL) {
      return core::ErrnoError("copy " + name);
    }
    char buf[1 << 16];  // no copy_file_range between these filesystems
    for (ssize_t r; (r = ::read(in.get(), buf, sizeof buf)) != 0;) {
      if (r < 0) {
        if (errno == EINTR) continue;
        return core::ErrnoError("read " + name);
      }
      for (ssize_t off = 0; off < r;) {
        const ssize_t w = ::write(out.get(), buf + off, static_cast<size_t>(r - off));
        if (w < 0) {
          if (errno == EINTR) continue;
          return core::ErrnoError("write " + name);
        }
        off += w;
      }
    }
    break;
  }
  return absl::OkStatus();
}

absl::Status CopyDir(int sfd, int dfd) {
  UniqueFd dup_fd(::fcntl(sfd, F_DUPFD_CLOEXEC, 0));
  if (!dup_fd) return core::ErrnoError("dup");
  DIR* dir = ::fdopendir(dup_fd.get());
  if (dir == nullptr) return core::ErrnoError("opendir");
  (void)dup_fd.Release();  // owned by dir
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(dir)) {
    const std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(dir);
  for (const auto& name : names) {
    const char* c = name.c_str();
    struct stat st;
    if (::fstatat(sfd, c, &st, AT_SYMLINK_NOFOLLOW) != 0) return core::ErrnoError("stat " + name);
    struct stat dst;
    bool dexists = ::fstatat(dfd, c, &dst, AT_SYMLINK_NOFOLLOW) == 0;
    if (S_ISCHR(st.st_mode) && st.st_rdev == 0) {  // whiteout
      if (dexists) AGENTD_RETURN_IF_ERROR(RemoveAt(dfd, name, dst));
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      if (dexists && (!S_ISDIR(dst.st_mode) || IsOpaque(sfd, name))) {
        AGENTD_RETURN_IF_ERROR(RemoveAt(dfd, name, dst));
        dexists = false;
      }
      if (!dexists && ::mkdirat(dfd, c, 0700) != 0) return core::ErrnoError("mkdir " + name);
      UniqueFd s(::openat(sfd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      UniqueFd d(::openat(dfd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!s || !d) return core::ErrnoError("open directory " + name);
      AGENTD_RETURN_IF_ERROR(CopyDir(s.get(), d.get()));
      AGENTD_RETURN_IF_ERROR(CopyMeta(sfd, dfd, name, st));
      continue;
    }
    if (dexists) AGENTD_RETURN_IF_ERROR(RemoveAt(dfd, name, dst));
    if (S_ISREG(st.st_mode)) {
      AGENTD_RETURN_IF_ERROR(CopyData(sfd, dfd, name));
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      const ssize_t n = ::readlinkat(sfd, c, target.data(), target.size());
      if (n < 0) return core::ErrnoError("readlink " + name);
      target.resize(static_cast<size_t>(n));
      if (::symlinkat(target.c_str(), dfd, c) != 0) return core::ErrnoError("symlink " + name);
    } else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      if (::mknodat(dfd, c, (st.st_mode & S_IFMT) | 0600, st.st_rdev) != 0) {
        return core::ErrnoError("mknod " + name);
      }
    } else {
      continue;  // sockets cannot come from a tar
    }
    AGENTD_RETURN_IF_ERROR(CopyMeta(sfd, dfd, name, st));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CopyLayersInto(const std::vector<std::string>& layers, const std::string& dest,
                            const std::string& work) {
  const std::string marker = work + kMarker;
  struct stat st;
  if (::lstat(marker.c_str(), &st) == 0) return absl::OkStatus();
  UniqueFd d(::open(dest.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!d) return core::ErrnoError("open " + dest);
  for (const auto& layer : layers) {
    UniqueFd s(::open(layer.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!s) return core::ErrnoError("open layer " + layer);
    AGENTD_RETURN_IF_ERROR(CopyDir(s.get(), d.get()));
  }
  return base::WriteFileAtomic(marker, "", 0600);
}

}  // namespace zlayer::images
