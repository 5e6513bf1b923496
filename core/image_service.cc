// Default behaviours of the ImageService interface: the contract's optional image
// operations are UNIMPLEMENTED unless an implementation has them.
#include "core/image_service.h"

#include "core/errors.h"

namespace zlayer::core {

absl::StatusOr<ImportResult> ImageService::ImportImage(const std::string&, int) {
  return Unsupported("import_image");
}

absl::StatusOr<std::vector<ImageInfo>> ImageService::ListImages() {
  return Unsupported("list_images");
}

absl::Status ImageService::RemoveImage(const std::string&, bool) {
  return Unsupported("remove_image");
}

absl::StatusOr<PruneResult> ImageService::PruneImages() { return Unsupported("prune_images"); }

absl::Status ImageService::TagImage(const std::string&, const std::string&) {
  return Unsupported("tag_image");
}

}  // namespace zlayer::core
