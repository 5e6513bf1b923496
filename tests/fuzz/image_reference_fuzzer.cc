// libFuzzer target: images::ParseReference on arbitrary bytes.
//
// Beyond "does not crash" (ASan, UBSan), it checks the parser's promises: a failure
// is INVALID_ARGUMENT with a reason, and a success is canonical: printing it and
// parsing that again gives the same reference.
#include <cstddef>
#include <cstdint>

#include "images/reference.h"

namespace {

void Require(bool condition) {
  if (!condition) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using zlayer::images::ParseReference;
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto ref = ParseReference(text);
  if (!ref.ok()) {
    Require(ref.status().code() == absl::StatusCode::kInvalidArgument);
    Require(!ref.status().message().empty());
    return 0;
  }
  Require(!ref->domain.empty());
  Require(!ref->repository.empty());
  Require(!ref->tag.empty() || !ref->digest.empty());
  if (!ref->digest.empty()) Require(zlayer::images::ValidateDigest(ref->digest).ok());
  const std::string canonical = ref->String();
  auto again = ParseReference(canonical);
  Require(again.ok());
  Require(again->String() == canonical);
  Require(again->domain == ref->domain && again->repository == ref->repository &&
          again->tag == ref->tag && again->digest == ref->digest);
  return 0;
}
