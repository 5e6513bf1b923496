// Small filesystem helpers that never follow symlinks where it would matter.
#pragma once

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace zlayer::base {

absl::StatusOr<std::string> ReadFile(const std::string& path);
// Reads `name` relative to an open directory; ENOENT maps to NOT_FOUND.
absl::StatusOr<std::string> ReadFileAt(int dirfd, const char* name);

// Writes to a temp file beside `path`, fsyncs it, renames it over `path` and fsyncs
// the directory, so a crash leaves either the old or the new content.
absl::Status WriteFileAtomic(const std::string& path, absl::string_view content,
                             mode_t mode = 0644, bool durable = true);

// mkdir -p; existing directories are fine.
absl::Status MakeDirs(const std::string& path, mode_t mode = 0755);

// rm -rf without following symlinks and without crossing into other mounts' contents
// that the caller did not expect: symlinks are unlinked, never traversed.
// A missing path is success.
absl::Status RemoveTree(const std::string& path);

// Total bytes of regular files under `path` (st_blocks based: what disk it uses).
uint64_t DiskUsage(const std::string& path);

// A directory that removes itself and its contents on destruction.
class TempDir {
 public:
  // Creates `<parent>/<prefix>XXXXXX`.
  static absl::StatusOr<TempDir> Create(const std::string& parent = "/tmp",
                                        const std::string& prefix = "zlayer-");
  TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::string& path() const { return path_; }
  // Keeps the directory on destruction.
  std::string Release() { return std::exchange(path_, std::string()); }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace zlayer::base
