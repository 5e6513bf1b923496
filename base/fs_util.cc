#include "base/fs_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/unique_fd.h"
#include "core/errors.h"

namespace zlayer::base {
namespace {

absl::StatusOr<std::string> ReadAll(int fd, absl::string_view what) {
  std::string out;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return core::ErrnoError(absl::StrCat("read ", what));
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

absl::Status WriteAll(int fd, absl::string_view data, absl::string_view what) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return core::ErrnoError(absl::StrCat("write ", what));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

// Removes everything inside the directory open at `dirfd`.
absl::Status RemoveContents(int dirfd, const std::string& path) {
  UniqueFd dup_fd(::dup(dirfd));
  if (!dup_fd) return core::ErrnoError(absl::StrCat("dup ", path));
  DIR* dir = ::fdopendir(dup_fd.get());
  if (dir == nullptr) return core::ErrnoError(absl::StrCat("opendir ", path));
  (void)dup_fd.Release();  // owned by `dir` now
  std::vector<std::string> names;
  while (struct dirent* ent = ::readdir(dir)) {
    const std::string_view name = ent->d_name;
    if (name == "." || name == "..") continue;
    names.emplace_back(name);
  }
  ::closedir(dir);
  for (const auto& name : names) {
    const std::string child = absl::StrCat(path, "/", name);
    if (::unlinkat(dirfd, name.c_str(), 0) == 0) continue;
    if (errno == ENOENT) continue;
    if (errno != EISDIR && errno != EPERM) return core::ErrnoError(absl::StrCat("unlink ", child));
    // A directory: descend without following a symlink swapped in meanwhile.
    UniqueFd sub(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub) {
      if (errno == ENOENT) continue;
      return core::ErrnoError(absl::StrCat("open ", child));
    }
    // Never descend into another filesystem: a mount left inside the tree (an overlay
    // rootfs, a bind-mounted host directory) would have its contents deleted.
    struct stat parent_st, child_st;
    if (::fstat(dirfd, &parent_st) != 0 || ::fstat(sub.get(), &child_st) != 0) {
      return core::ErrnoError(absl::StrCat("stat ", child));
    }
    if (parent_st.st_dev != child_st.st_dev) {
      return absl::FailedPreconditionError(
          absl::StrCat("refusing to remove ", child, ": it is a mount point; unmount it first"));
    }
    if (auto s = RemoveContents(sub.get(), child); !s.ok()) return s;
    if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
      return core::ErrnoError(absl::StrCat("rmdir ", child));
    }
  }
  return absl::OkStatus();
}

uint64_t UsageAt(int dirfd) {
  UniqueFd dup_fd(::dup(dirfd));
  if (!dup_fd) return 0;
  DIR* dir = ::fdopendir(dup_fd.get());
  if (dir == nullptr) return 0;
  (void)dup_fd.Release();
  uint64_t total = 0;
  while (struct dirent* ent = ::readdir(dir)) {
    const std::string_view name = ent->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (::fstatat(dirfd, ent->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    total += static_cast<uint64_t>(st.st_blocks) * 512;
    if (S_ISDIR(st.st_mode)) {
      UniqueFd sub(::openat(dirfd, ent->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (sub) total += UsageAt(sub.get());
    }
  }
  ::closedir(dir);
  return total;
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return core::ErrnoError(absl::StrCat("open ", path));
  return ReadAll(fd.get(), path);
}

absl::StatusOr<std::string> ReadFileAt(int dirfd, const char* name) {
  UniqueFd fd(::openat(dirfd, name, O_RDONLY | O_CLOEXEC));
  if (!fd) return core::ErrnoError(absl::StrCat("open ", name));
  return ReadAll(fd.get(), name);
}

absl::Status WriteFileAtomic(const std::string& path, absl::string_view content, mode_t mode,
                             bool durable) {
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  std::string tmp = absl::StrCat(path, ".tmp.XXXXXX");
  UniqueFd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (!fd) return core::ErrnoError(absl::StrCat("create temp file for ", path));
  auto cleanup_tmp = [&] { ::unlink(tmp.c_str()); };
  if (::fchmod(fd.get(), mode) != 0) {
    auto s = core::ErrnoError(absl::StrCat("chmod ", tmp));
    cleanup_tmp();
    return s;
  }
  if (auto s = WriteAll(fd.get(), content, tmp); !s.ok()) {
    cleanup_tmp();
    return s;
  }
  if (durable && ::fsync(fd.get()) != 0) {
    auto s = core::ErrnoError(absl::StrCat("fsync ", tmp));
    cleanup_tmp();
    return s;
  }
  fd.Reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto s = core::ErrnoError(absl::StrCat("rename to ", path));
    cleanup_tmp();
    return s;
  }
  if (durable) {
    UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dfd) ::fsync(dfd.get());
  }
  return absl::OkStatus();
}

absl::Status MakeDirs(const std::string& path, mode_t mode) {
  if (path.empty()) return absl::InvalidArgumentError("MakeDirs: empty path");
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    const std::string prefix = path.substr(0, pos);
    if (::mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST) {
      return core::ErrnoError(absl::StrCat("mkdir ", prefix));
    }
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return core::ErrnoError(absl::StrCat("stat ", path));
  if (!S_ISDIR(st.st_mode)) return absl::FailedPreconditionError(path + " is not a directory");
  return absl::OkStatus();
}

absl::Status RemoveTree(const std::string& path) {
  if (::unlink(path.c_str()) == 0) return absl::OkStatus();
  if (errno == ENOENT) return absl::OkStatus();
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return absl::OkStatus();
    return core::ErrnoError(absl::StrCat("open ", path));
  }
  if (auto s = RemoveContents(fd.get(), path); !s.ok()) return s;
  fd.Reset();
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT) {
    return core::ErrnoError(absl::StrCat("rmdir ", path));
  }
  return absl::OkStatus();
}

uint64_t DiskUsage(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return 0;
    return static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return UsageAt(fd.get());
}

absl::StatusOr<TempDir> TempDir::Create(const std::string& parent, const std::string& prefix) {
  std::string tmpl = absl::StrCat(parent, "/", prefix, "XXXXXX");
  if (::mkdtemp(tmpl.data()) == nullptr)
    return core::ErrnoError(absl::StrCat("mkdtemp in ", parent));
  return TempDir(std::move(tmpl));
}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    if (!path_.empty()) (void)RemoveTree(path_);
    path_ = std::exchange(other.path_, std::string());
  }
  return *this;
}

TempDir::~TempDir() {
  if (!path_.empty()) (void)RemoveTree(path_);
}

}  // namespace zlayer::base
