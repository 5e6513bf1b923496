// Docker-style image references, parsed the way users expect.
//
// A pure unit (no I/O, no globals) so a fuzz target can include it on its own.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace zlayer::images {

// The default registry of bare names, and where its API really lives.
inline constexpr absl::string_view kDockerHubDomain = "docker.io";
inline constexpr absl::string_view kDockerHubApiHost = "registry-1.docker.io";

// A normalised reference: "busybox" becomes {docker.io, library/busybox, latest}.
struct Reference {
  std::string domain;      // "docker.io", "127.0.0.1:5000", "[::1]:5000"
  std::string repository;  // "library/busybox"
  std::string tag;         // empty only when `digest` is set and no tag was given
  std::string digest;      // "sha256:<64 hex>" or empty
  bool tag_explicit = false;  // the text named a tag (rather than defaulting to latest)

  // "docker.io/library/busybox".
  std::string Name() const;
  // Canonical form: "docker.io/library/busybox:latest", "host/x@sha256:..",
  // "host/x:tag@sha256:..".
  std::string String() const;
  // The name with the tag only (no digest); empty tag -> Name()@digest.
  std::string TagOrDigestRef() const;
  // Where the registry API is reached: docker.io -> registry-1.docker.io.
  std::string ApiHost() const;
  // What the manifest request names: the digest when set, else the tag.
  std::string ManifestSelector() const { return digest.empty() ? tag : digest; }
};

// Parses `text`. INVALID_ARGUMENT names what is wrong: empty, upper case in the
// repository, bad tag, bad or unsupported digest, too long, bad host or port.
absl::StatusOr<Reference> ParseReference(absl::string_view text);

// "sha256:" followed by 64 lower-case hex digits; INVALID_ARGUMENT otherwise.
// Other algorithms are refused because the store addresses content by SHA-256.
absl::Status ValidateDigest(absl::string_view digest);

}  // namespace zlayer::images
