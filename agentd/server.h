// The gRPC server: RuntimeService, health and reflection, on a unix socket, an
// optional TCP port, and sockets inherited through systemd socket activation.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "agentd/grpc/runtime_service.h"
#include "agentd/grpc/service_context.h"
#include "metrics/agent_metrics.h"

namespace zlayer::agentd {

struct ServerOptions {
  // Empty = no socket of our own (for example when every listener is inherited).
  std::string socket_path;
  unsigned socket_mode = 0660;
  std::string socket_group;
  std::string tcp_address;
  // Listening sockets passed by systemd (LISTEN_FDS), served in addition to the
  // above: connections are accepted here and handed to gRPC one by one. The
  // sockets stay open (systemd holds them too) and are never unlinked by us.
  std::vector<int> inherited_fds;
  // Called with the builder before the server starts. Empty in production; the
  // test build (zlayer-agentd-testhooks) registers its fault-injection service.
  std::function<void(grpc::ServerBuilder*)> customize;
  // When set, every RPC is counted here (an interceptor; none without metrics).
  metrics::RpcMetrics* rpc_metrics = nullptr;
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

  // A client channel to this server over a socketpair: calls on it take the same
  // path as a client's (chttp2 transport, gRPC's pollers, the callback threads),
  // which is what the watchdog's liveness probe should exercise. An in-process
  // channel would skip the transport and the pollers.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> SelfChannel();
  // The TCP port actually bound (useful with port 0).
  int tcp_port() const { return tcp_port_; }

 private:
  AgentServer() = default;
  absl::Status Listen(const ServerOptions& options);
  void AcceptLoop();

  ServiceContext context_;
  std::unique_ptr<RuntimeServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string socket_path_;
  int tcp_port_ = 0;
  std::vector<int> inherited_fds_;
  std::thread acceptor_;  // serves every inherited listener
  int wake_fd_ = -1;      // eventfd that stops the accept loop
  std::atomic<bool> stopping_{false};
};

}  // namespace zlayer::agentd
