// The hardened layer unpacker: one layer tar (gzip, zstd or plain) into one empty
// snapshot directory, with OCI whiteouts turned into overlayfs ones.
//
// Nothing outside `target_dir` is ever written: every path is resolved component
// by component from a directory fd with O_NOFOLLOW, and entries are created with
// *at() calls that do not follow a final symlink. Entries that would need to leave
// the directory are refused (the layer, and so the pull, fails):
//   - absolute paths and ".." components;
//   - a path through a symlink planted earlier in this layer, or through a symlink
//     in a lower layer at a directory this layer creates implicitly;
//   - hard links to anything not already in this layer;
//   - block and character devices, unless allowed;
//   - a decompressed stream larger than the bound.
// The caller removes the directory when this fails.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace zlayer::images {

struct UnpackOptions {
  // Bound on the decompressed tar stream; RESOURCE_EXHAUSTED beyond it.
  uint64_t max_bytes = 8ull << 30;
  bool allow_devices = false;
  // Snapshot directories of the layers below, top first.
  std::vector<std::string> lower_dirs;
};

struct UnpackResult {
  std::string diff_id;        // sha256 of the uncompressed tar stream
  uint64_t tar_bytes = 0;     // length of that stream
  uint64_t content_bytes = 0; // bytes of regular-file data written
  uint64_t entries = 0;
};

// Unpacks the layer blob open at `blob_fd` (read from its current offset) into
// `target_dir`, which must exist and be empty. INVALID_ARGUMENT names the refused
// entry and why; RESOURCE_EXHAUSTED for the size bound or a full disk.
absl::StatusOr<UnpackResult> UnpackLayer(int blob_fd, const std::string& target_dir,
                                         const UnpackOptions& options);

}  // namespace zlayer::images
