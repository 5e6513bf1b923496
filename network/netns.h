// Named network namespaces: a namespace kept alive by a bind mount of its nsfs file
// at a path (as `ip netns add` does), so that it exists before any container
// process, outlives agent restarts, and can be handed to the runtime and to CNI.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace zlayer::network {

// Creates a fresh namespace (loopback only, up) bound at `path`; the directory
// must exist. ALREADY_EXISTS when `path` already holds one.
absl::Status CreateNetns(const std::string& path);
// Unmounts and unlinks `path`; OK when there is nothing there. The namespace itself
// ends when its last process leaves it.
absl::Status RemoveNetns(const std::string& path);
// True when `path` is a bound network namespace.
bool IsNetns(const std::string& path);

}  // namespace zlayer::network
