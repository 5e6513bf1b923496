// The agent's error model: the contract's error kinds, carried in absl::Status.
//
// Every layer returns absl::Status / absl::StatusOr. The kind of an error is its
// status code, and each kind has exactly one code, so the gRPC edge converts with
// a plain cast (both enums follow google.rpc.Code). Messages name the container or
// image involved and, where there is one, what the caller should do about it.
#pragma once

#include <cerrno>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace zlayer::core {

enum class ErrorKind {
  kNotFound,           // NOT_FOUND: unknown container or image
  kInvalidSpec,        // INVALID_ARGUMENT: bad spec, bad signal, bad reference
  kUnsupported,        // UNIMPLEMENTED: optional operation the backend lacks
  kAlreadyExists,      // ALREADY_EXISTS: duplicate create or tag
  kWrongState,         // FAILED_PRECONDITION: e.g. exec in a stopped container
  kPullFailed,         // UNAVAILABLE: registry unreachable, 5xx, timeout
  kInternal,           // INTERNAL: runtime failure we cannot classify
  kResourceExhausted,  // RESOURCE_EXHAUSTED: ENOSPC, EMFILE, limits
  kDeadlineExceeded,   // DEADLINE_EXCEEDED: a server-side timeout fired
  kPermissionDenied,   // PERMISSION_DENIED: registry refused our credentials
  kCancelled,          // CANCELLED: the caller went away
};

// A kind plus its message; converts to and from absl::Status without loss.
class AgentError {
 public:
  AgentError(ErrorKind kind, std::string message) : kind_(kind), message_(std::move(message)) {}

  ErrorKind kind() const { return kind_; }
  const std::string& message() const { return message_; }

  absl::Status ToStatus() const;
  // Any status maps to some kind; codes outside the model count as kInternal.
  static AgentError FromStatus(const absl::Status& status);

 private:
  ErrorKind kind_;
  std::string message_;
};

absl::StatusCode CodeForKind(ErrorKind kind);
ErrorKind KindForCode(absl::StatusCode code);
// "not found", "invalid spec", ... for messages and logs.
std::string_view KindName(ErrorKind kind);

// Constructors for the common kinds. `object` is what the error is about, e.g.
// "container web-rep-1" or "image docker.io/library/busybox:latest".
absl::Status NotFound(absl::string_view object, absl::string_view reason);
absl::Status InvalidSpec(absl::string_view message);
absl::Status Unsupported(absl::string_view operation);
absl::Status AlreadyExists(absl::string_view object, absl::string_view hint);
absl::Status WrongState(absl::string_view object, absl::string_view state, absl::string_view hint);
absl::Status PullFailed(absl::string_view image, absl::string_view reason);
absl::Status Internal(absl::string_view message);

// Builds a status from an errno value captured by the caller right after the failing
// call: ENOENT -> NOT_FOUND, ENOSPC/EMFILE -> RESOURCE_EXHAUSTED, and so on.
absl::Status ErrnoStatus(int err, absl::string_view what);
// Captures errno itself; call it before anything that might overwrite errno.
inline absl::Status ErrnoError(absl::string_view what) {
  const int err = errno;
  return ErrnoStatus(err, what);
}

// Prefixes context to a status's message while keeping its code.
absl::Status Annotate(const absl::Status& status, absl::string_view context);

}  // namespace zlayer::core
