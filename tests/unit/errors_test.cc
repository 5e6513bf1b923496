#include "core/errors.h"

#include <grpcpp/support/status.h>

#include <catch2/catch.hpp>
#include <cerrno>

#include "agentd/grpc/status_convert.h"

using zlayer::core::AgentError;
using zlayer::core::ErrorKind;

TEST_CASE("each error kind maps to exactly one gRPC code", "[unit]") {
  const std::pair<ErrorKind, grpc::StatusCode> table[] = {
      {ErrorKind::kNotFound, grpc::StatusCode::NOT_FOUND},
      {ErrorKind::kInvalidSpec, grpc::StatusCode::INVALID_ARGUMENT},
      {ErrorKind::kUnsupported, grpc::StatusCode::UNIMPLEMENTED},
      {ErrorKind::kAlreadyExists, grpc::StatusCode::ALREADY_EXISTS},
      {ErrorKind::kWrongState, grpc::StatusCode::FAILED_PRECONDITION},
      {ErrorKind::kPullFailed, grpc::StatusCode::UNAVAILABLE},
      {ErrorKind::kInternal, grpc::StatusCode::INTERNAL},
  };
  for (const auto& [kind, code] : table) {
    INFO(zlayer::core::KindName(kind));
    const AgentError err(kind, "container web-rep-1: something");
    const grpc::Status g = zlayer::agentd::ToGrpcStatus(err.ToStatus());
    CHECK(g.error_code() == code);
    CHECK(g.error_message() == "container web-rep-1: something");
    // And back again without loss.
    const AgentError back = AgentError::FromStatus(err.ToStatus());
    CHECK(back.kind() == kind);
    CHECK(back.message() == err.message());
  }
}

TEST_CASE("constructors name the object and keep their kind", "[unit]") {
  auto s = zlayer::core::NotFound("container web-rep-1", "container not found");
  CHECK(s.code() == absl::StatusCode::kNotFound);
  CHECK(s.message() == "container web-rep-1: container not found");
  CHECK(zlayer::core::Unsupported("list_images").message() ==
        "list_images is not supported by this runtime");
  CHECK(zlayer::core::PullFailed("busybox", "timeout").code() == absl::StatusCode::kUnavailable);
  auto w = zlayer::core::WrongState("container a-rep-1", "exited(0)", "start it first");
  CHECK(w.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(w.message() == "container a-rep-1 is exited(0); start it first");
}

TEST_CASE("errno values map to the codes a client can act on", "[unit]") {
  CHECK(zlayer::core::ErrnoStatus(ENOENT, "open x").code() == absl::StatusCode::kNotFound);
  CHECK(zlayer::core::ErrnoStatus(ENOSPC, "write x").code() ==
        absl::StatusCode::kResourceExhausted);
  CHECK(zlayer::core::ErrnoStatus(EMFILE, "open x").code() == absl::StatusCode::kResourceExhausted);
  CHECK(zlayer::core::ErrnoStatus(EACCES, "open x").code() == absl::StatusCode::kPermissionDenied);
  CHECK(std::string(zlayer::core::ErrnoStatus(ENOENT, "open /x").message()).rfind("open /x: ", 0) ==
        0);
}

TEST_CASE("Annotate adds context and keeps the code", "[unit]") {
  auto s = zlayer::core::Annotate(absl::NotFoundError("inner"), "outer");
  CHECK(s.code() == absl::StatusCode::kNotFound);
  CHECK(s.message() == "outer: inner");
  CHECK(zlayer::core::Annotate(absl::OkStatus(), "x").ok());
}

TEST_CASE("OK converts to OK", "[unit]") {
  CHECK(zlayer::agentd::ToGrpcStatus(absl::OkStatus()).ok());
}
