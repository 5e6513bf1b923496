#include "agentd/server.h"

#include <fcntl.h>
#include <grp.h>
#include <grpcpp/create_channel_posix.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_posix.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agentd/grpc/metrics_interceptor.h"
#include "base/fs_util.h"
#include "base/logging.h"
#include "base/unique_fd.h"
#include "core/errors.h"

namespace zlayer::agentd {
namespace {

constexpr char kServiceName[] = "zlayer.agent.v1.RuntimeService";

// A socket file that accepts connections belongs to a running agent; one that
// refuses them is stale and may be replaced.
absl::Status ClaimSocketPath(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return absl::OkStatus();
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " exists and is not a socket; remove it or choose another --socket"));
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    return absl::InvalidArgumentError(absl::StrCat("socket path too long: ", path));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  base::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd && ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    return absl::AlreadyExistsError(absl::StrCat(
        "another process is serving ", path, "; stop it or choose another --socket"));
  }
  ::unlink(path.c_str());
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<AgentServer>> AgentServer::Start(const ServerOptions& options,
                                                                 ServiceContext context) {
  std::unique_ptr<AgentServer> server(new AgentServer());
  server->context_ = context;
  if (auto s = server->Listen(options); !s.ok()) return s;
  return server;
}

absl::Status AgentServer::Listen(const ServerOptions& options) {
  auto log = base::Logger("agentd");
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  service_ = std::make_unique<RuntimeServiceImpl>(context_);
  grpc::ServerBuilder builder;
  builder.RegisterService(service_.get());
  // Streams are long-lived and mostly idle: keep connections alive through NATs and
  // notice dead peers.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.SetMaxReceiveMessageSize(64 << 20);
  builder.SetMaxSendMessageSize(64 << 20);
  if (options.customize) options.customize(&builder);
  if (options.rpc_metrics) {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(MetricsInterceptorFactory(options.rpc_metrics));
    builder.experimental().SetInterceptorCreators(std::move(creators));
  }

  if (!options.socket_path.empty()) {
    const std::string& path = options.socket_path;
    const auto slash = path.rfind('/');
    if (slash != std::string::npos && slash > 0) {
      if (auto s = base::MakeDirs(path.substr(0, slash), 0755); !s.ok()) return s;
    }
    if (auto s = ClaimSocketPath(path); !s.ok()) return s;
    builder.AddListeningPort(absl::StrCat("unix:", path), grpc::InsecureServerCredentials());
    socket_path_ = path;
  }
  if (!options.tcp_address.empty()) {
    builder.AddListeningPort(options.tcp_address, grpc::InsecureServerCredentials(), &tcp_port_);
  }

  // The socket is created by BuildAndStart; a umask makes it appear with the final
  // mode instead of widening it for a moment.
  const mode_t old_umask = ::umask(static_cast<mode_t>(~options.socket_mode & 0777));
  server_ = builder.BuildAndStart();
  ::umask(old_umask);
  if (!server_) {
    return absl::UnavailableError(absl::StrCat(
        "could not start the gRPC server on ",
        options.socket_path.empty() ? options.tcp_address : options.socket_path,
        "; see the log above for gRPC's reason"));
  }
  if (!options.tcp_address.empty() && tcp_port_ == 0) {
    return absl::UnavailableError(absl::StrCat("could not listen on ", options.tcp_address));
  }
  if (!socket_path_.empty()) {
    if (::chmod(socket_path_.c_str(), options.socket_mode) != 0) {
      return core::ErrnoError(absl::StrCat("chmod ", socket_path_));
    }
    if (!options.socket_group.empty()) {
      gid_t gid;
      unsigned numeric;
      if (absl::SimpleAtoi(options.socket_group, &numeric)) {
        gid = static_cast<gid_t>(numeric);
      } else if (struct group* g = ::getgrnam(options.socket_group.c_str())) {
        gid = g->gr_gid;
      } else {
        return absl::InvalidArgumentError(absl::StrCat(
            "socket group '", options.socket_group, "' does not exist; create it or fix --socket-group"));
      }
      if (::chown(socket_path_.c_str(), static_cast<uid_t>(-1), gid) != 0) {
        return core::ErrnoError(absl::StrCat("chown ", socket_path_));
      }
    }
  }

  auto* health = server_->GetHealthCheckService();
  health->SetServingStatus("", true);
  health->SetServingStatus(kServiceName, true);

  // Inherited listeners: gRPC 1.51 cannot adopt a listening socket, so we accept
  // and hand each connection over. Connections made before this point (even
  // before this process existed, while systemd held the socket) wait in the
  // listen backlog and are served now.
  if (!options.inherited_fds.empty()) {
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) return core::ErrnoError("eventfd");
    inherited_fds_ = options.inherited_fds;
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  log->info("serving socket={} tcp={} inherited_fds={}", socket_path_.empty() ? "-" : socket_path_,
            tcp_port_ ? absl::StrCat(options.tcp_address, " (port ", tcp_port_, ")") : "-",
            options.inherited_fds.size());
  return absl::OkStatus();
}

void AgentServer::AcceptLoop() {
  auto log = base::Logger("agentd");
  std::vector<struct pollfd> fds;
  for (int fd : inherited_fds_) {
    // Non-blocking, so that a connection that vanishes between poll and accept
    // cannot park this thread where Shutdown's wake-up does not reach it. The file
    // description is shared with systemd, which only polls it (Accept=no), so the
    // flag changes nothing for it; the next agent copes with either mode.
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    fds.push_back({fd, POLLIN, 0});
  }
  fds.push_back({wake_fd_, POLLIN, 0});
  while (!stopping_.load()) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      log->error("poll on inherited sockets failed error={}", std::strerror(errno));
      return;
    }
    if (fds.back().revents) return;
    for (size_t i = 0; i + 1 < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      // One connection per listener per wake-up, to stay fair between listeners.
      const int conn = ::accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (conn < 0) {
        if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) continue;
        const int err = errno;
        log->warn("accept on inherited socket failed fd={} error={}", fds[i].fd,
                  std::strerror(err));
        // Out of descriptors: the connection stays queued; back off instead of
        // spinning on a socket that stays readable.
        if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
          struct pollfd wake = {wake_fd_, POLLIN, 0};
          ::poll(&wake, 1, 100);
        }
        continue;
      }
      // gRPC takes ownership of `conn`.
      grpc::AddInsecureChannelFromFd(server_.get(), conn);
    }
  }
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> AgentServer::SelfChannel() {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) != 0) {
    return core::ErrnoError("socketpair for the liveness probe");
  }
  // Each side takes ownership of its end.
  grpc::AddInsecureChannelFromFd(server_.get(), pair[0]);
  return grpc::CreateInsecureChannelFromFd("zlayer-agentd-self", pair[1]);
}

void AgentServer::Shutdown(absl::Duration grace) {
  if (!server_) return;
  stopping_.store(true);
  if (wake_fd_ >= 0) {
    const uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
  }
  if (acceptor_.joinable()) acceptor_.join();
  // NOT_SERVING for everyone, and health Watch streams end.
  server_->GetHealthCheckService()->Shutdown();
  context_.streams->AbortAll(
      grpc::Status(grpc::StatusCode::UNAVAILABLE, "zlayer-agentd is shutting down; reconnect"));
  // gRPC's own Shutdown(deadline) waits for idle client connections until the
  // deadline, even with no call in flight. So we wait for our own work to finish
  // (aborted streams to close, the work queue to drain), bounded by `grace`, and then
  // shut gRPC down with a short deadline.
  const absl::Time deadline = absl::Now() + grace;
  while (absl::Now() < deadline) {
    const auto progress = context_.queue->GetProgress();
    if (context_.streams->size() == 0 && progress.pending == 0 && progress.running == 0) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Milliseconds(100)));
  server_->Wait();
  server_.reset();
  if (!socket_path_.empty()) ::unlink(socket_path_.c_str());
  if (wake_fd_ >= 0) ::close(wake_fd_);
  wake_fd_ = -1;
}

AgentServer::~AgentServer() { Shutdown(absl::Seconds(5)); }

}  // namespace zlayer::agentd
