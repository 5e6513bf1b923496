#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace zlayer::agentd {

// absl and gRPC codes both follow google.rpc.Code, so the code carries over as is.
inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

}  // namespace zlayer::agentd
