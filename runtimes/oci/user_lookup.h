// Resolving "user", "uid", "user:group", "uid:gid" the way Docker does, through the
// image's own /etc/passwd and /etc/group. Those files are opened inside the rootfs
// with RESOLVE_IN_ROOT, so an image cannot point them at the host's files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace zlayer::oci {

struct ResolvedUser {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additional_gids;
  std::string home = "/";
};

// INVALID_ARGUMENT naming the user or group when a name is not in the image's files.
// Numeric ids need no entry (a uid without one gets gid 0 and home "/").
absl::StatusOr<ResolvedUser> ResolveUser(const std::string& rootfs, const std::string& spec);

// The same, from file contents (for tests).
absl::StatusOr<ResolvedUser> ResolveUserFrom(const std::string& passwd, const std::string& group,
                                             const std::string& spec);

// Reads a file inside `rootfs` without following links out of it; "" when absent.
std::string ReadFileInRoot(const std::string& rootfs, const std::string& path,
                           size_t max_bytes = 1 << 20);

}  // namespace zlayer::oci
