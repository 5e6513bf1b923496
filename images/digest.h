// Streaming SHA-256 for content addressing: blobs are hashed as they arrive, never
// re-read to be verified.
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <string>

#include "absl/strings/string_view.h"

namespace zlayer::images {

class Sha256 {
 public:
  Sha256();
  Sha256(Sha256&&) noexcept = default;
  Sha256& operator=(Sha256&&) noexcept = default;

  void Update(const void* data, size_t len);
  void Update(absl::string_view data) { Update(data.data(), data.size()); }
  // "sha256:<hex>". The hasher must not be updated afterwards.
  std::string Finish();
  // Copies the running state, so a caller can fork a digest mid-stream.
  Sha256 Clone() const;

 private:
  struct CtxDeleter {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
  };
  std::unique_ptr<EVP_MD_CTX, CtxDeleter> ctx_;
};

// Digest of a whole string: manifests and configs, which are small.
std::string DigestOf(absl::string_view data);

// The hex part of "sha256:<hex>" (the digest must have been validated).
inline absl::string_view DigestHex(absl::string_view digest) {
  const size_t colon = digest.find(':');
  return colon == absl::string_view::npos ? digest : digest.substr(colon + 1);
}

}  // namespace zlayer::images
