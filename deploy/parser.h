// Deployment specs in YAML: parsing and validation.
//
//   version: v1
//   deployment: shop
//   services:
//     web:
//       image: {name: "docker.io/library/nginx:1.25"}
//       scale: {replicas: 2}
//
// docs/deploy.md describes every key. Unknown keys are errors, and every error names
// its place (file:line:column), the key path and what is expected there; all errors
// of a document are reported together. yaml-cpp's exceptions never escape.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "deploy/deployment_spec.h"
#include "deploy/spec_error.h"

namespace zlayer::deploy {

// Larger specs are refused before parsing.
inline constexpr size_t kMaxSpecBytes = 4 << 20;

// Parses `yaml`; `file` names it in error messages. On failure, `errors` holds every
// problem found, in document order, and the returned spec is incomplete.
DeploymentSpec ParseDeployment(absl::string_view yaml, absl::string_view file,
                               std::vector<SpecError>* errors);

// The same as a status: INVALID_ARGUMENT with one error per line of its message.
absl::StatusOr<DeploymentSpec> ParseDeployment(absl::string_view yaml,
                                               absl::string_view file = "<input>");

// Reads and parses a file; NOT_FOUND (and the like) when it cannot be read.
absl::StatusOr<DeploymentSpec> LoadDeploymentFile(const std::string& path);

}  // namespace zlayer::deploy
