// Registry credentials from a Docker-format config.json.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "core/service_spec.h"

namespace zlayer::images {

// Looks `host` ("registry.example:5000", "docker.io") up in the "auths" map of the
// Docker config.json at `path`. Keys may be bare hosts or URLs
// ("https://host/v1/"); docker.io also matches Docker's historic index keys.
// A missing file or host is nullopt; an unreadable or malformed file is
// FAILED_PRECONDITION naming the file (never its contents).
absl::StatusOr<std::optional<core::RegistryAuth>> LookupCredentials(const std::string& path,
                                                                    const std::string& host);

}  // namespace zlayer::images
