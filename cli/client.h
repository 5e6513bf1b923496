// The connection to zlayer-agentd and the error model of zlayerctl.
//
// Every failure becomes an absl::Status whose code is the gRPC code (both follow
// google.rpc.Code), so main prints one line, "zlayerctl: NOT_FOUND: ...", and exits 1.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "zlayer/agent/v1/runtime.grpc.pb.h"

namespace zlayer::cli {

namespace pb = ::zlayer::agent::v1;

inline constexpr char kDefaultAddress[] = "unix:///run/zlayer/agentd.sock";

// The gRPC target for an --address value: "unix:///p" and "unix:p" as given, a path
// ("/run/x.sock", "./x.sock") as a unix socket, "tcp://H:P" and "H:P" as TCP.
std::string NormalizeAddress(const std::string& address);

class Client {
 public:
  // `address` as given by the user (for messages); the channel connects lazily.
  explicit Client(const std::string& address);

  pb::RuntimeService::Stub& stub() { return *stub_; }

  // A context for a unary call: fails fast when the agent is not there, and gives
  // up after `timeout`.
  std::unique_ptr<grpc::ClientContext> Call(absl::Duration timeout = absl::Seconds(30)) const;
  // A context for a stream that may run as long as the user wants (logs -f, wait).
  std::unique_ptr<grpc::ClientContext> Stream() const;

  // The status of a failed call, with a hint when the agent could not be reached.
  absl::Status Error(const grpc::Status& status) const;

  const std::string& address() const { return address_; }

 private:
  std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::RuntimeService::Stub> stub_;
};

// "zlayerctl: NOT_FOUND: container web-rep-1: container not found" on stderr.
void PrintError(const absl::Status& status);

}  // namespace zlayer::cli
