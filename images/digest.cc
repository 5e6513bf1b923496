#include "images/digest.h"

#include <cstdlib>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace zlayer::images {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  // Allocation failure or a missing SHA-256 leaves nothing sensible to do.
  if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) std::abort();
}

void Sha256::Update(const void* data, size_t len) {
  if (len != 0) EVP_DigestUpdate(ctx_.get(), data, len);
}

std::string Sha256::Finish() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_.get(), md, &len);
  return absl::StrCat("sha256:",
                      absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(md), len)));
}

Sha256 Sha256::Clone() const {
  Sha256 copy;
  EVP_MD_CTX_copy_ex(copy.ctx_.get(), ctx_.get());
  return copy;
}

std::string DigestOf(absl::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.Finish();
}

}  // namespace zlayer::images
