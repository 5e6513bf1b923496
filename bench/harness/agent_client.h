// Thin blocking helpers over the generated stubs, returning absl::Status. Every
// call has a deadline, so a wedged agent fails the case instead of hanging it.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "zlayer/agent/v1/runtime.grpc.pb.h"

namespace zlayer::bench {

namespace pb = ::zlayer::agent::v1;
using Stub = pb::RuntimeService::Stub;

std::unique_ptr<grpc::ClientContext> Deadline(absl::Duration timeout);
absl::Status FromGrpc(const grpc::Status& s, const std::string& what);

// A channel of its own (its own connection), not shared with other channels to
// the same socket.
std::shared_ptr<grpc::Channel> NewChannel(const std::string& socket_path, int tag = 0);
absl::Status WaitForAgent(const std::string& socket_path, absl::Duration timeout);

pb::ContainerId Id(const std::string& service, uint32_t replica);
// `argv` from the image, pull policy IF_NOT_PRESENT.
pb::ServiceSpec Spec(const std::string& image, const std::vector<std::string>& argv);

absl::Status Create(Stub& stub, const pb::ContainerId& id, const pb::ServiceSpec& spec);
absl::Status Start(Stub& stub, const pb::ContainerId& id);
absl::Status Remove(Stub& stub, const pb::ContainerId& id, bool force = true);
// Reads a Wait stream to its end; the outcome must arrive.
absl::StatusOr<pb::WaitOutcome> WaitOutcome(Stub& stub, const pb::ContainerId& id,
                                            absl::Duration timeout = absl::Seconds(60));
absl::StatusOr<pb::ExecResponse> Exec(Stub& stub, const pb::ContainerId& id,
                                      const std::vector<std::string>& argv);
// Reads an ExecStream to its end; returns the exit code.
absl::StatusOr<int> ExecStream(Stub& stub, const pb::ContainerId& id,
                               const std::vector<std::string>& argv);
// ImportImage of an OCI layout tar under `reference`, in 256 KiB chunks.
absl::Status ImportLayout(Stub& stub, const std::string& reference, const std::string& archive);
// Removes (force) every container the agent knows.
absl::Status RemoveAll(Stub& stub);

}  // namespace zlayer::bench
