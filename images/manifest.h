// OCI and Docker v2 manifests, indexes / manifest lists, and image configs.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace zlayer::images {

namespace media_types {
inline constexpr char kOciManifest[] = "application/vnd.oci.image.manifest.v1+json";
inline constexpr char kOciIndex[] = "application/vnd.oci.image.index.v1+json";
inline constexpr char kOciConfig[] = "application/vnd.oci.image.config.v1+json";
inline constexpr char kDockerManifest[] = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr char kDockerList[] =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr char kDockerConfig[] = "application/vnd.docker.container.image.v1+json";
}  // namespace media_types

// The Accept header of manifest requests: every kind we can use.
const char* ManifestAcceptHeader();

struct Platform {
  std::string os;            // "linux"
  std::string architecture;  // "amd64", "arm64", ...
  std::string variant;       // "v8", "v7", or empty
  // This machine: linux plus its architecture in OCI spelling.
  static Platform Host();
  // "linux/arm64/v8".
  std::string String() const;
};

struct Descriptor {
  std::string media_type;
  std::string digest;
  int64_t size = -1;
  std::vector<std::string> urls;
  bool has_platform = false;
  Platform platform;
  std::map<std::string, std::string> annotations;
};

struct Manifest {
  std::string media_type;
  Descriptor config;
  std::vector<Descriptor> layers;  // bottom first
};

struct Index {
  std::string media_type;
  std::vector<Descriptor> manifests;
};

struct ParsedManifest {
  bool is_index = false;
  Manifest manifest;  // !is_index
  Index index;        // is_index
};

// Parses a manifest or index. `content_type` is the HTTP Content-Type (may be empty);
// the document's own mediaType wins when present. Schema 1 and unknown kinds are
// INVALID_ARGUMENT with a message naming the type; digests are validated.
absl::StatusOr<ParsedManifest> ParseManifest(absl::string_view body,
                                             absl::string_view content_type);

// Picks the manifest for `want` from an index: same os and architecture, and the
// variant when both name one (arm64 defaults to v8). NOT_FOUND lists what the index
// offers.
absl::StatusOr<Descriptor> SelectPlatform(const Index& index, const Platform& want);

// The parts of an image config a container needs.
struct ImageConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // "KEY=value"
  std::string working_dir;
  std::string user;
  std::string stop_signal;
  std::map<std::string, std::string> labels;
  std::vector<std::string> exposed_ports;  // "80/tcp"
  std::vector<std::string> volumes;        // "/data"
  std::string os;
  std::string architecture;
  std::string variant;
  std::optional<absl::Time> created;
  // rootfs.diff_ids: digests of the uncompressed layers, bottom first.
  std::vector<std::string> diff_ids;
};

// INVALID_ARGUMENT when the JSON is malformed or rootfs.diff_ids is missing/invalid.
absl::StatusOr<ImageConfig> ParseImageConfig(absl::string_view body);

// The chain id of each layer (OCI image spec): chain[0] = diff_ids[0],
// chain[i] = sha256(chain[i-1] + " " + diff_ids[i]).
std::vector<std::string> ChainIds(const std::vector<std::string>& diff_ids);

}  // namespace zlayer::images
