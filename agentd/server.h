// The gRPC server: RuntimeService, health and reflection, on a unix socket, an
// optional TCP port, and sockets inherited through systemd socket activation.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "agentd/grpc/runtime_service.h"
#include "agentd/grpc/service_context.h"

namespace zlayer::agentd {

struct ServerOptions {
  // Empty = no socket of our own (for example when every listener is inherited).
  std::string socket_path;
  unsigned socket_mode = 0660;
  std::string socket_group;
  std::string tcp_address;
  // Listening sockets passed by systemd (LISTEN_FDS); served instead of binding.
  std::vector<int> inherited_fds;
};

class AgentServer {
 public:
  static absl::StatusOr<std::unique_ptr<AgentServer>> Start(const ServerOptions& options,
                                                            ServiceContext context);
  ~AgentServer();

  // Ends open streams with UNAVAILABLE, waits up to `grace` for in-flight calls,
  // cancels the rest, and removes our socket.
  void Shutdown(absl::Duration grace);

  grpc::Server* grpc_server() { return server_.get(); }
  // The TCP port actually bound (useful with port 0).
  int tcp_port() const { return tcp_port_; }

 private:
  AgentServer() = default;
  absl::Status Listen(const ServerOptions& options);
  void AcceptLoop(int listen_fd);

  ServiceContext context_;
  std::unique_ptr<RuntimeServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string socket_path_;
  int tcp_port_ = 0;
  std::vector<int> inherited_fds_;
  std::vector<std::thread> acceptors_;
  int wake_fd_ = -1;  // eventfd that stops the accept loops
  std::atomic<bool> stopping_{false};
};

}  // namespace zlayer::agentd
