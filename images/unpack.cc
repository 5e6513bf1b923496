#include "images/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/fs_util.h"
#include "base/status_macros.h"
#include "base/unique_fd.h"
#include "core/errors.h"
#include "images/digest.h"

namespace zlayer::images {
namespace {

using base::UniqueFd;

constexpr char kWhiteoutPrefix[] = ".wh.";
constexpr char kWhiteoutMetaPrefix[] = ".wh..wh.";
constexpr char kOpaqueMarker[] = ".wh..wh..opq";
constexpr char kOverlayOpaqueXattr[] = "trusted.overlay.opaque";
// Far beyond real images (deep node_modules trees reach ~100), and it keeps a
// hostile layer from making every entry walk thousands of directories.
constexpr size_t kMaxDepth = 1024;

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveDeleter>;

absl::Status Refuse(absl::string_view entry, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("layer entry \"", entry, "\" refused: ", why));
}

// The decompressed tar stream, pulled through the outer (filter-only) archive:
// hashed for the diff id and counted against the bound on its way to the tar
// reader, so no byte reaches the tar parser uncounted.
struct Stream {
  archive* outer = nullptr;
  Sha256 hash;
  uint64_t total = 0;
  uint64_t max = 0;
  bool over = false;
  std::string error;
  std::vector<char> buf = std::vector<char>(1 << 17);

  la_ssize_t Pull(const void** out) {
    const la_ssize_t n = archive_read_data(outer, buf.data(), buf.size());
    if (n < 0) {
      error = archive_error_string(outer) ? archive_error_string(outer) : "decompression failed";
      return -1;
    }
    total += static_cast<uint64_t>(n);
    if (total > max) {
      over = true;
      return -1;
    }
    hash.Update(buf.data(), static_cast<size_t>(n));
    *out = buf.data();
    return n;
  }
  static la_ssize_t Read(archive*, void* user, const void** out) {
    return static_cast<Stream*>(user)->Pull(out);
  }
};

// Splits an entry path into components; refuses absolute paths and "..".
absl::StatusOr<std::vector<std::string>> SplitPath(absl::string_view raw,
                                                   absl::string_view entry) {
  if (absl::StartsWith(raw, "/")) return Refuse(entry, "absolute path");
  std::vector<std::string> out;
  for (absl::string_view c : absl::StrSplit(raw, '/')) {
    if (c.empty() || c == ".") continue;
    if (c == "..") return Refuse(entry, "path has a \"..\" component");
    out.emplace_back(c);
  }
  return out;
}

class Unpacker {
 public:
  Unpacker(int root_fd, const UnpackOptions& options) : root_(root_fd), options_(options) {}

  absl::Status Entry(archive* tar, archive_entry* e);
  absl::Status FinishDirs();
  uint64_t content_bytes() const { return content_bytes_; }

 private:
  absl::StatusOr<UniqueFd> OpenDirs(const std::vector<std::string>& comps, size_t n, bool create,
                                    absl::string_view entry);
  absl::Status CheckLowers(const std::vector<std::string>& comps, size_t n,
                           absl::string_view entry);
  absl::Status RemoveExisting(int parent, const std::string& name, const struct stat& st);
  absl::Status WriteFile(archive* tar, archive_entry* e, int parent, const std::string& name,
                         absl::string_view entry);
  absl::Status ApplyMetadata(archive_entry* e, int parent, const std::string& name, int fd,
                             bool is_symlink, absl::string_view entry);

  struct DirTimes {
    std::vector<std::string> comps;
    struct timespec times[2];
  };
  // Directory times are set after the layer is written: each file created inside
  // would otherwise move them again.
  void RememberDirTimes(const std::vector<std::string>& comps, archive_entry* e) {
    DirTimes dir{comps, {}};
    dir.times[1] = {static_cast<time_t>(archive_entry_mtime(e)), archive_entry_mtime_nsec(e)};
    dir.times[0] = dir.times[1];
    dirs_.push_back(std::move(dir));
  }

  // The parent directory of the previous entry, kept open: tars list a
  // directory's files together, so most entries skip the walk from the root.
  // Any removal drops it, since the removed node may have been on its path.
  absl::StatusOr<int> Parent(const std::vector<std::string>& comps, absl::string_view entry);

  const int root_;
  const UnpackOptions& options_;
  std::vector<DirTimes> dirs_;
  uint64_t content_bytes_ = 0;
  std::string parent_key_;
  UniqueFd parent_fd_;
  bool parent_valid_ = false;
};

absl::StatusOr<int> Unpacker::Parent(const std::vector<std::string>& comps,
                                     absl::string_view entry) {
  std::string key = absl::StrJoin(comps.begin(), comps.end() - 1, "/");
  if (parent_valid_ && key == parent_key_) return parent_fd_.get();
  AGENTD_ASSIGN_OR_RETURN(UniqueFd fd, OpenDirs(comps, comps.size() - 1, true, entry));
  parent_fd_ = std::move(fd);
  parent_key_ = std::move(key);
  parent_valid_ = true;
  return parent_fd_.get();
}

absl::Status Unpacker::CheckLowers(const std::vector<std::string>& comps, size_t n,
                                   absl::string_view entry) {
  // This layer creates comps[0..n) implicitly. If the merged view below has a
  // symlink on that path, a runtime applying layers onto a rootfs would write
  // through it; refuse rather than guess.
  for (const auto& lower : options_.lower_dirs) {
    UniqueFd cur(::open(lower.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!cur) return core::ErrnoError(absl::StrCat("open lower snapshot ", lower));
    bool missing = false;
    bool opaque = false;  // an opaque directory on the path hides the layers below
    for (size_t j = 0; j < n; ++j) {
      struct stat st;
      if (::fstatat(cur.get(), comps[j].c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno != ENOENT) return core::ErrnoError(absl::StrCat("stat in ", lower));
        missing = true;
        break;
      }
      if (S_ISLNK(st.st_mode)) {
        return Refuse(entry, absl::StrCat("\"", absl::StrJoin(comps.begin(), comps.begin() + j + 1, "/"),
                                          "\" is a symlink in a lower layer; this layer would "
                                          "write through it"));
      }
      if (!S_ISDIR(st.st_mode)) return absl::OkStatus();  // file or whiteout shadows the rest
      if (j + 1 == n) return absl::OkStatus();            // a real directory: safe
      cur.Reset(::openat(cur.get(), comps[j].c_str(),
                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!cur) return core::ErrnoError(absl::StrCat("open in ", lower));
      char v = 0;
      opaque = opaque || (::fgetxattr(cur.get(), kOverlayOpaqueXattr, &v, 1) == 1 && v == 'y');
    }
    if (!missing || opaque) return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::StatusOr<UniqueFd> Unpacker::OpenDirs(const std::vector<std::string>& comps, size_t n,
                                            bool create, absl::string_view entry) {
  UniqueFd cur(::fcntl(root_, F_DUPFD_CLOEXEC, 0));
  if (!cur) return core::ErrnoError("dup snapshot fd");
  for (size_t i = 0; i < n; ++i) {
    const char* c = comps[i].c_str();
    int fd = ::openat(cur.get(), c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
      AGENTD_RETURN_IF_ERROR(CheckLowers(comps, i + 1, entry));
      if (::mkdirat(cur.get(), c, 0755) != 0) return core::ErrnoError(absl::StrCat("mkdir ", c));
      fd = ::openat(cur.get(), c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
      const int err = errno;
      const std::string prefix = absl::StrJoin(comps.begin(), comps.begin() + i + 1, "/");
      struct stat st;
      if ((err == ELOOP || err == ENOTDIR) &&
          ::fstatat(cur.get(), c, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISLNK(st.st_mode)) {
          return Refuse(entry, absl::StrCat("\"", prefix, "\" is a symlink planted earlier in "
                                            "this layer; writing through it could leave the layer"));
        }
        return Refuse(entry, absl::StrCat("\"", prefix, "\" is not a directory"));
      }
      if (err == ENOENT) {
        return absl::NotFoundError(absl::StrCat("\"", prefix, "\" does not exist in this layer"));
      }
      return core::ErrnoStatus(err, absl::StrCat("open ", prefix));
    }
    cur.Reset(fd);
  }
  return cur;
}

absl::Status Unpacker::RemoveExisting(int parent, const std::string& name, const struct stat& st) {
  parent_valid_ = false;  // the fd stays open for the current entry
  if (S_ISDIR(st.st_mode)) {
    // Via the fd, so the removal stays inside this snapshot whatever the path.
    return base::RemoveTree(absl::StrCat("/proc/self/fd/", parent, "/", name));
  }
  if (::unlinkat(parent, name.c_str(), 0) != 0) return core::ErrnoError("unlink " + name);
  return absl::OkStatus();
}

absl::Status Unpacker::ApplyMetadata(archive_entry* e, int parent, const std::string& name,
                                     int fd, bool is_symlink, absl::string_view entry) {
  const uid_t uid = static_cast<uid_t>(archive_entry_uid(e));
  const gid_t gid = static_cast<gid_t>(archive_entry_gid(e));
  const mode_t mode = archive_entry_perm(e) & 07777;
  // chown first: it clears set-id bits and security.capability, which come after.
  if (fd >= 0) {
    if (::fchown(fd, uid, gid) != 0) return core::ErrnoError(absl::StrCat("chown ", entry));
    if (::fchmod(fd, mode) != 0) return core::ErrnoError(absl::StrCat("chmod ", entry));
  } else {
    if (::fchownat(parent, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) {
      return core::ErrnoError(absl::StrCat("chown ", entry));
    }
    // Never a symlink here: we created this node a moment ago in a directory no one
    // else writes to, so fchmodat (which cannot refuse to follow) is safe.
    if (!is_symlink && ::fchmodat(parent, name.c_str(), mode, 0) != 0) {
      return core::ErrnoError(absl::StrCat("chmod ", entry));
    }
  }
  const char* xname = nullptr;
  const void* xvalue = nullptr;
  size_t xsize = 0;
  archive_entry_xattr_reset(e);
  const std::string proc_path = absl::StrCat("/proc/self/fd/", parent, "/", name);
  while (archive_entry_xattr_next(e, &xname, &xvalue, &xsize) == ARCHIVE_OK) {
    // Overlay's own attributes would let a layer forge opaque dirs or redirects;
    // only whiteout entries may produce those.
    if (absl::StartsWith(xname, "trusted.overlay.") || absl::StartsWith(xname, "user.overlay.")) {
      continue;
    }
    const int rc = fd >= 0 ? ::fsetxattr(fd, xname, xvalue, xsize, 0)
                           : ::lsetxattr(proc_path.c_str(), xname, xvalue, xsize, 0);
    // Filesystems without xattrs, and user.* on symlinks, are not worth failing for.
    if (rc != 0 && errno != ENOTSUP && errno != EPERM) {
      return core::ErrnoError(absl::StrCat("setxattr ", xname, " on ", entry));
    }
  }
  struct timespec times[2];
  times[1] = {static_cast<time_t>(archive_entry_mtime(e)), archive_entry_mtime_nsec(e)};
  times[0] = archive_entry_atime_is_set(e)
                 ? timespec{static_cast<time_t>(archive_entry_atime(e)), archive_entry_atime_nsec(e)}
                 : times[1];
  if (archive_entry_filetype(e) == AE_IFDIR) return absl::OkStatus();  // see FinishDirs
  const int rc = fd >= 0 ? ::futimens(fd, times)
                         : ::utimensat(parent, name.c_str(), times, AT_SYMLINK_NOFOLLOW);
  if (rc != 0) return core::ErrnoError(absl::StrCat("set times of ", entry));
  return absl::OkStatus();
}

absl::Status Unpacker::WriteFile(archive* tar, archive_entry* e, int parent,
                                 const std::string& name, absl::string_view entry) {
  UniqueFd fd(::openat(parent, name.c_str(),
                       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return core::ErrnoError(absl::StrCat("create ", entry));
  const void* buf = nullptr;
  size_t size = 0;
  la_int64_t offset = 0;
  for (;;) {
    const int r = archive_read_data_block(tar, &buf, &size, &offset);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      return absl::InvalidArgumentError(absl::StrCat("reading data of layer entry \"", entry,
                                                     "\": ", archive_error_string(tar)));
    }
    const char* p = static_cast<const char*>(buf);
    while (size > 0) {
      const ssize_t n = ::pwrite(fd.get(), p, size, offset);
      if (n < 0) {
        if (errno == EINTR) continue;
        return core::ErrnoError(absl::StrCat("write ", entry));
      }
      p += n;
      size -= static_cast<size_t>(n);
      offset += n;
    }
  }
  if (archive_entry_size_is_set(e)) {
    // Sparse files end in a hole that no data block covers.
    if (::ftruncate(fd.get(), archive_entry_size(e)) != 0) {
      return core::ErrnoError(absl::StrCat("truncate ", entry));
    }
    content_bytes_ += static_cast<uint64_t>(archive_entry_size(e));
    // Sparse entries can claim sizes their stream never carries.
    if (content_bytes_ > options_.max_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "layer files add up to more than ", options_.max_bytes, " bytes (max_layer_bytes)"));
    }
  }
  return ApplyMetadata(e, parent, name, fd.get(), false, entry);
}

absl::Status Unpacker::Entry(archive* tar, archive_entry* e) {
  const char* raw = archive_entry_pathname(e);
  if (raw == nullptr) raw = archive_entry_pathname_utf8(e);
  if (raw == nullptr) return absl::InvalidArgumentError("layer entry without a name");
  const std::string entry = raw;
  AGENTD_ASSIGN_OR_RETURN(std::vector<std::string> comps, SplitPath(entry, entry));
  if (comps.size() > kMaxDepth) {
    return Refuse(entry, absl::StrCat("path is deeper than ", kMaxDepth, " components"));
  }
  if (comps.empty()) return absl::OkStatus();  // "./": the snapshot root itself
  const std::string base = comps.back();

  if (base == kOpaqueMarker) {
    AGENTD_ASSIGN_OR_RETURN(UniqueFd dir, OpenDirs(comps, comps.size() - 1, true, entry));
    if (::fsetxattr(dir.get(), kOverlayOpaqueXattr, "y", 1, 0) != 0) {
      return core::ErrnoError(absl::StrCat("mark opaque ", entry));
    }
    return absl::OkStatus();
  }
  if (absl::StartsWith(base, kWhiteoutMetaPrefix)) return absl::OkStatus();  // aufs metadata
  if (absl::StartsWith(base, kWhiteoutPrefix)) {
    const std::string victim = base.substr(sizeof(kWhiteoutPrefix) - 1);
    if (victim.empty() || victim == "." || victim == "..") {
      return Refuse(entry, "whiteout names no file");
    }
    AGENTD_ASSIGN_OR_RETURN(UniqueFd dir, OpenDirs(comps, comps.size() - 1, true, entry));
    struct stat st;
    // A whiteout hides lower layers only; an entry of this same layer stays.
    if (::fstatat(dir.get(), victim.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      return absl::OkStatus();
    }
    if (::mknodat(dir.get(), victim.c_str(), S_IFCHR | 0, makedev(0, 0)) != 0) {
      return core::ErrnoError(absl::StrCat("create whiteout ", entry));
    }
    return absl::OkStatus();
  }

  const mode_t type = archive_entry_filetype(e);
  const char* hardlink = archive_entry_hardlink(e);
  if (hardlink == nullptr) hardlink = archive_entry_hardlink_utf8(e);
  if (hardlink == nullptr && (type == AE_IFCHR || type == AE_IFBLK) && !options_.allow_devices) {
    return Refuse(entry, absl::StrCat(type == AE_IFCHR ? "character" : "block", " device ",
                                      archive_entry_rdevmajor(e), ":",
                                      archive_entry_rdevminor(e), " not allowed in layers"));
  }
  if (hardlink == nullptr && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK &&
      type != AE_IFIFO && type != AE_IFCHR && type != AE_IFBLK) {
    return Refuse(entry, "unsupported file type");
  }
  AGENTD_ASSIGN_OR_RETURN(const int pfd, Parent(comps, entry));
  const char* name = base.c_str();

  struct stat st;
  const bool exists = ::fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (hardlink == nullptr && type == AE_IFDIR && exists && S_ISDIR(st.st_mode)) {
    // A directory named again (or created implicitly before): update it in place.
    AGENTD_RETURN_IF_ERROR(ApplyMetadata(e, pfd, base, -1, false, entry));
    RememberDirTimes(comps, e);
    return absl::OkStatus();
  }
  // A later entry replaces an earlier one of the same name; the old node is removed,
  // never written through.
  if (exists) AGENTD_RETURN_IF_ERROR(RemoveExisting(pfd, base, st));

  if (hardlink != nullptr) {
    const std::string target = hardlink;
    auto tcomps = SplitPath(target, entry);
    if (!tcomps.ok()) {
      return Refuse(entry, absl::StrCat("hard link to \"", target, "\" leaves the layer"));
    }
    if (tcomps->empty()) return Refuse(entry, "hard link to the layer root");
    auto tdir = OpenDirs(*tcomps, tcomps->size() - 1, false, entry);
    if (!tdir.ok()) {
      if (absl::IsNotFound(tdir.status())) {
        return Refuse(entry, absl::StrCat("hard link to \"", target,
                                          "\", which is not in this layer"));
      }
      return tdir.status();
    }
    struct stat tst;
    if (::fstatat(tdir->get(), tcomps->back().c_str(), &tst, AT_SYMLINK_NOFOLLOW) != 0) {
      return Refuse(entry, absl::StrCat("hard link to \"", target,
                                        "\", which is not in this layer"));
    }
    if (S_ISDIR(tst.st_mode)) return Refuse(entry, "hard link to a directory");
    if (::linkat(tdir->get(), tcomps->back().c_str(), pfd, name, 0) != 0) {
      return core::ErrnoError(absl::StrCat("link ", entry));
    }
    return absl::OkStatus();
  }

  switch (type) {
    case AE_IFREG:
      return WriteFile(tar, e, pfd, base, entry);
    case AE_IFDIR:
      if (::mkdirat(pfd, name, 0700) != 0) return core::ErrnoError(absl::StrCat("mkdir ", entry));
      AGENTD_RETURN_IF_ERROR(ApplyMetadata(e, pfd, base, -1, false, entry));
      RememberDirTimes(comps, e);
      return absl::OkStatus();
    case AE_IFLNK: {
      const char* target = archive_entry_symlink(e);
      if (target == nullptr) target = archive_entry_symlink_utf8(e);
      if (target == nullptr) return Refuse(entry, "symlink without a target");
      // Any target is fine: the unpacker never follows links, and the runtime
      // resolves them inside the container's root.
      if (::symlinkat(target, pfd, name) != 0) {
        return core::ErrnoError(absl::StrCat("symlink ", entry));
      }
      return ApplyMetadata(e, pfd, base, -1, true, entry);
    }
    case AE_IFIFO:
    case AE_IFCHR:
    case AE_IFBLK: {
      const mode_t kind = type == AE_IFIFO ? S_IFIFO : type == AE_IFCHR ? S_IFCHR : S_IFBLK;
      const dev_t dev = makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
      if (::mknodat(pfd, name, kind | 0600, type == AE_IFIFO ? 0 : dev) != 0) {
        return core::ErrnoError(absl::StrCat("mknod ", entry));
      }
      return ApplyMetadata(e, pfd, base, -1, false, entry);
    }
  }
  return Refuse(entry, "unsupported file type");
}

absl::Status Unpacker::FinishDirs() {
  // Directory times last, deepest first, since creating children changes them.
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    auto parent = OpenDirs(it->comps, it->comps.size() - 1, false, "");
    if (!parent.ok()) continue;  // replaced by a later entry
    if (::utimensat(parent->get(), it->comps.back().c_str(), it->times, AT_SYMLINK_NOFOLLOW) != 0 &&
        errno != ENOENT) {
      return core::ErrnoError("set directory times");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<UnpackResult> UnpackLayer(int blob_fd, const std::string& target_dir,
                                         const UnpackOptions& options) {
  UniqueFd root(::open(target_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root) return core::ErrnoError(absl::StrCat("open snapshot ", target_dir));

  ArchivePtr outer(archive_read_new());
  if (!outer) return absl::ResourceExhaustedError("archive_read_new");
  archive_read_support_filter_gzip(outer.get());
  archive_read_support_filter_zstd(outer.get());
  archive_read_support_format_raw(outer.get());
  if (archive_read_open_fd(outer.get(), blob_fd, 1 << 17) != ARCHIVE_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat("layer is not gzip, zstd or plain tar: ", archive_error_string(outer.get())));
  }
  archive_entry* raw_entry = nullptr;
  if (archive_read_next_header(outer.get(), &raw_entry) != ARCHIVE_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat("layer cannot be read: ", archive_error_string(outer.get())));
  }
  const int filter = archive_filter_code(outer.get(), 0);
  if (filter != ARCHIVE_FILTER_NONE && filter != ARCHIVE_FILTER_GZIP &&
      filter != ARCHIVE_FILTER_ZSTD) {
    return absl::InvalidArgumentError(absl::StrCat(
        "layer compression ", archive_filter_name(outer.get(), 0), " is not supported"));
  }

  Stream stream;
  stream.outer = outer.get();
  stream.max = options.max_bytes;
  ArchivePtr tar(archive_read_new());
  if (!tar) return absl::ResourceExhaustedError("archive_read_new");
  archive_read_support_format_tar(tar.get());
  archive_read_support_format_gnutar(tar.get());
  if (archive_read_open(tar.get(), &stream, nullptr, &Stream::Read, nullptr) != ARCHIVE_OK) {
    if (stream.over) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "layer decompresses to more than ", options.max_bytes, " bytes (max_layer_bytes)"));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("layer is not a tar archive: ", archive_error_string(tar.get())));
  }

  Unpacker unpacker(root.get(), options);
  UnpackResult result;
  auto stream_error = [&](archive* a) -> absl::Status {
    if (stream.over) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "layer decompresses to more than ", options.max_bytes, " bytes (max_layer_bytes)"));
    }
    if (!stream.error.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("layer decompression failed: ", stream.error));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("layer is not a valid tar archive: ", archive_error_string(a)));
  };
  for (;;) {
    archive_entry* e = nullptr;
    const int r = archive_read_next_header(tar.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return stream_error(tar.get());
    ++result.entries;
    if (auto s = unpacker.Entry(tar.get(), e); !s.ok()) {
      if (stream.over || !stream.error.empty()) return stream_error(tar.get());
      return s;
    }
  }
  AGENTD_RETURN_IF_ERROR(unpacker.FinishDirs());
  // The tar reader stops at the end-of-archive blocks; the diff id covers the whole
  // stream, padding included.
  const void* ignored = nullptr;
  for (;;) {
    const la_ssize_t n = stream.Pull(&ignored);
    if (n == 0) break;
    if (n < 0) return stream_error(tar.get());
  }
  result.diff_id = stream.hash.Finish();
  result.tar_bytes = stream.total;
  result.content_bytes = unpacker.content_bytes();
  return result;
}

}  // namespace zlayer::images
