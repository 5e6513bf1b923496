// Container names on the command line: "<service>-rep-<N>", or "<service>" for
// replica 1 (interface.md).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "zlayer/agent/v1/runtime.pb.h"

namespace zlayer::cli {

namespace pb = ::zlayer::agent::v1;

// "web-rep-2" -> {web, 2}; "web" -> {web, 1}. INVALID_ARGUMENT for names that are
// neither, e.g. "web-rep-x" or "bad name".
absl::StatusOr<pb::ContainerId> ParseContainerName(absl::string_view name);

// A service name derived from an image reference for `run` without --name:
// "docker.io/library/busybox:latest" -> "busybox", "ghcr.io/a/b-c@sha256:..." -> "b-c".
std::string ServiceNameForImage(absl::string_view image);

}  // namespace zlayer::cli
