// The ImageService interface: the image half of the contract (pull with a policy and
// optional credentials, import, list, remove, prune, tag).
//
// The image store (images/image_store.h) implements it for real containers; the
// mock backend implements it as the contract's mock does. agentd/ serves it over
// gRPC beside ContainerRuntime.
//
// Threading: every method may be called from any thread and may block (network,
// disk); the agent calls them from its work queue, never from a gRPC reaction.
//
// Errors (core/errors.h): NOT_FOUND for an image that is not here (or, under
// policy Never, not pulled), INVALID_ARGUMENT for a bad reference or hostile
// content, FAILED_PRECONDITION for removing an image a container uses without
// force, PERMISSION_DENIED when a registry refuses the credentials, UNAVAILABLE when
// a registry cannot be reached, RESOURCE_EXHAUSTED when the disk is full,
// UNIMPLEMENTED for operations an implementation lacks (the defaults below).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/image_types.h"

namespace zlayer::core {

using PullProgressFn = std::function<void(const PullProgress&)>;

class ImageService {
 public:
  virtual ~ImageService() = default;

  // Makes `request.image` available locally under `request.policy`. `progress` (may
  // be empty) is called from download threads. The resolved reference and digest.
  virtual absl::StatusOr<PullResult> PullImage(const PullRequest& request,
                                               const PullProgressFn& progress) = 0;
  // Imports an OCI image layout tar read from `tar_fd` until EOF.
  virtual absl::StatusOr<ImportResult> ImportImage(const std::string& reference, int tar_fd);
  virtual absl::StatusOr<std::vector<ImageInfo>> ListImages();
  // Refuses (FAILED_PRECONDITION) while a container uses the image unless `force`.
  virtual absl::Status RemoveImage(const std::string& image, bool force);
  virtual absl::StatusOr<PruneResult> PruneImages();
  virtual absl::Status TagImage(const std::string& source, const std::string& target);
};

}  // namespace zlayer::core
