#include "core/errors.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace zlayer::core {

absl::StatusCode CodeForKind(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kNotFound:
      return absl::StatusCode::kNotFound;
    case ErrorKind::kInvalidSpec:
      return absl::StatusCode::kInvalidArgument;
    case ErrorKind::kUnsupported:
      return absl::StatusCode::kUnimplemented;
    case ErrorKind::kAlreadyExists:
      return absl::StatusCode::kAlreadyExists;
    case ErrorKind::kWrongState:
      return absl::StatusCode::kFailedPrecondition;
    case ErrorKind::kPullFailed:
      return absl::StatusCode::kUnavailable;
    case ErrorKind::kInternal:
      return absl::StatusCode::kInternal;
    case ErrorKind::kResourceExhausted:
      return absl::StatusCode::kResourceExhausted;
    case ErrorKind::kDeadlineExceeded:
      return absl::StatusCode::kDeadlineExceeded;
    case ErrorKind::kPermissionDenied:
      return absl::StatusCode::kPermissionDenied;
    case ErrorKind::kCancelled:
      return absl::StatusCode::kCancelled;
  }
  return absl::StatusCode::kInternal;
}

ErrorKind KindForCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kNotFound:
      return ErrorKind::kNotFound;
    case absl::StatusCode::kInvalidArgument:
      return ErrorKind::kInvalidSpec;
    case absl::StatusCode::kUnimplemented:
      return ErrorKind::kUnsupported;
    case absl::StatusCode::kAlreadyExists:
      return ErrorKind::kAlreadyExists;
    case absl::StatusCode::kFailedPrecondition:
      return ErrorKind::kWrongState;
    case absl::StatusCode::kUnavailable:
      return ErrorKind::kPullFailed;
    case absl::StatusCode::kResourceExhausted:
      return ErrorKind::kResourceExhausted;
    case absl::StatusCode::kDeadlineExceeded:
      return ErrorKind::kDeadlineExceeded;
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return ErrorKind::kPermissionDenied;
    case absl::StatusCode::kCancelled:
      return ErrorKind::kCancelled;
    default:
      return ErrorKind::kInternal;
  }
}

std::string_view KindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kNotFound:
      return "not found";
    case ErrorKind::kInvalidSpec:
      return "invalid spec";
    case ErrorKind::kUnsupported:
      return "unsupported";
    case ErrorKind::kAlreadyExists:
      return "already exists";
    case ErrorKind::kWrongState:
      return "wrong state";
    case ErrorKind::kPullFailed:
      return "pull failed";
    case ErrorKind::kInternal:
      return "internal";
    case ErrorKind::kResourceExhausted:
      return "resource exhausted";
    case ErrorKind::kDeadlineExceeded:
      return "deadline exceeded";
    case ErrorKind::kPermissionDenied:
      return "permission denied";
    case ErrorKind::kCancelled:
      return "cancelled";
  }
  return "internal";
}

absl::Status AgentError::ToStatus() const { return absl::Status(CodeForKind(kind_), message_); }

AgentError AgentError::FromStatus(const absl::Status& status) {
  return AgentError(KindForCode(status.code()), std::string(status.message()));
}

absl::Status NotFound(absl::string_view object, absl::string_view reason) {
  return absl::NotFoundError(absl::StrCat(object, ": ", reason));
}

absl::Status InvalidSpec(absl::string_view message) { return absl::InvalidArgumentError(message); }

absl::Status Unsupported(absl::string_view operation) {
  return absl::UnimplementedError(absl::StrCat(operation, " is not supported by this runtime"));
}

absl::Status AlreadyExists(absl::string_view object, absl::string_view hint) {
  return absl::AlreadyExistsError(absl::StrCat(object, " already exists; ", hint));
}

absl::Status WrongState(absl::string_view object, absl::string_view state, absl::string_view hint) {
  return absl::FailedPreconditionError(absl::StrCat(object, " is ", state, "; ", hint));
}

absl::Status PullFailed(absl::string_view image, absl::string_view reason) {
  return absl::UnavailableError(absl::StrCat("pull ", image, ": ", reason));
}

absl::Status Internal(absl::string_view message) { return absl::InternalError(message); }

absl::Status ErrnoStatus(int err, absl::string_view what) {
  char buf[128];
  // GNU strerror_r returns the message pointer, which may not be buf.
  const char* text = ::strerror_r(err, buf, sizeof buf);
  std::string message = absl::StrCat(what, ": ", text);
  switch (err) {
    case ENOSPC:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case EDQUOT:
      return absl::ResourceExhaustedError(message);
    default:
      return absl::ErrnoToStatus(err, message);
  }
}

absl::Status Annotate(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(context, ": ", status.message()));
}

}  // namespace zlayer::core
