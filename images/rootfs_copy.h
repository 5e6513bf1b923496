// The fallback where overlayfs is unavailable: the merged view of the layers is
// copied into the container's own directory.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace zlayer::images {

// Copies the layers, bottom first, into `dest` the way overlayfs would show them:
// whiteouts (0:0 character devices) delete, opaque directories hide what is below.
// Owners, modes, xattrs (except overlay's own), times, symlinks, devices and fifos
// are kept; hard links become separate copies. A marker in `work` records
// completion, so a second call (container restart) keeps the container's changes.
absl::Status CopyLayersInto(const std::vector<std::string>& layers_bottom_first,
                            const std::string& dest, const std::string& work);

}  // namespace zlayer::images
