#include "cli/client.h"

#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace zlayer::cli {

std::string NormalizeAddress(const std::string& address) {
  if (absl::StartsWith(address, "unix:") || absl::StartsWith(address, "unix-abstract:") ||
      absl::StartsWith(address, "dns:") || absl::StartsWith(address, "ipv4:") ||
      absl::StartsWith(address, "ipv6:")) {
    return address;
  }
  if (absl::StartsWith(address, "/")) return absl::StrCat("unix://", address);
  if (absl::StartsWith(address, "./") || absl::StartsWith(address, "../")) {
    return absl::StrCat("unix:", address);
  }
  if (absl::StartsWith(address, "tcp://")) return address.substr(6);
  return address;
}

Client::Client(const std::string& address) : address_(address) {
  grpc::ChannelArguments args;
  // Listings of many containers and inspect output can exceed the 4 MiB default.
  args.SetMaxReceiveMessageSize(64 << 20);
  channel_ = grpc::CreateCustomChannel(NormalizeAddress(address),
                                       grpc::InsecureChannelCredentials(), args);
  stub_ = pb::RuntimeService::NewStub(channel_);
}

std::unique_ptr<grpc::ClientContext> Client::Call(absl::Duration timeout) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return ctx;
}

std::unique_ptr<grpc::ClientContext> Client::Stream() const {
  return std::make_unique<grpc::ClientContext>();
}

absl::Status Client::Error(const grpc::Status& status) const {
  if (status.ok()) return absl::OkStatus();
  std::string message = status.error_message();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
      (absl::StrContains(message, "failed to connect") ||
       absl::StrContains(message, "Connection refused") ||
       absl::StrContains(message, "No such file"))) {
    absl::StrAppend(&message, " (is zlayer-agentd running and serving ", address_,
                    "? Use --address to reach another agent)");
  }
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), message);
}

void PrintError(const absl::Status& status) {
  std::fflush(stdout);
  // One line: a multi-line message (several spec errors) is printed by its command.
  std::string message(status.message());
  for (char& c : message) {
    if (c == '\n') c = ' ';
  }
  std::fprintf(stderr, "zlayerctl: %s: %s\n", absl::StatusCodeToString(status.code()).c_str(),
               message.c_str());
}

}  // namespace zlayer::cli
