// `zlayer-monitor probe tcp PID PORT TIMEOUT_MS`
// `zlayer-monitor probe http PID URL EXPECT_STATUS TIMEOUT_MS`
//
// Health probes for the agent. They must run in the container's network namespace,
// and entering a namespace is something a multi-threaded agent must never do to one
// of its own threads, so a short-lived process does it. Exit 0 = healthy; the first
// line of output says what was found.
#include "runtimes/oci/monitor/probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace zlayer::monitor {
namespace {

long NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int Fail(const std::string& why) {
  printf("%s\n", why.c_str());
  return 1;
}

bool EnterNetns(const char* pid) {
  const std::string path = std::string("/proc/") + pid + "/ns/net";
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = setns(fd, CLONE_NEWNET) == 0;
  close(fd);
  return ok;
}

// Connects within the deadline; -1 and a reason on failure.
int Connect(const std::string& host, int port, long deadline, std::string* why) {
  struct sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  // Names resolve inside the container in Docker; here only addresses and
  // "localhost" are supported, which covers a check of the container itself.
  const std::string ip = (host.empty() || host == "localhost") ? "127.0.0.1" : host;
  if (inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1) {
    *why = "host '" + host + "' is not an IPv4 address or localhost";
    return -1;
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    *why = std::string("socket: ") + strerror(errno);
    return -1;
  }
  if (connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) != 0 &&
      errno != EINPROGRESS) {
    *why = "connect " + ip + ":" + std::to_string(port) + ": " + strerror(errno);
    close(fd);
    return -1;
  }
  struct pollfd p = {fd, POLLOUT, 0};
  const long left = deadline - NowMs();
  if (left <= 0 || poll(&p, 1, static_cast<int>(left)) != 1) {
    *why = "connect " + ip + ":" + std::to_string(port) + ": timed out";
    close(fd);
    return -1;
  }
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    *why = "connect " + ip + ":" + std::to_string(port) + ": " + strerror(err);
    close(fd);
    return -1;
  }
  return fd;
}

int ProbeHttp(const std::string& url, int expect, long deadline) {
  // http://host[:port][/path]
  std::string rest = url.substr(7);
  const size_t slash = rest.find('/');
  const std::string hostport = rest.substr(0, slash);
  const std::string path = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string host = hostport;
  int port = 80;
  if (const size_t colon = hostport.rfind(':'); colon != std::string::npos) {
    host = hostport.substr(0, colon);
    port = atoi(hostport.c_str() + colon + 1);
  }
  std::string why;
  const int fd = Connect(host, port, deadline, &why);
  if (fd < 0) return Fail(why);
  const std::string req = "GET " + path + " HTTP/1.0\r\nHost: " + hostport +
                          "\r\nUser-Agent: zlayer-health\r\nConnection: close\r\n\r\n";
  size_t sent = 0;
  while (sent < req.size()) {
    struct pollfd p = {fd, POLLOUT, 0};
    const long left = deadline - NowMs();
    if (left <= 0 || poll(&p, 1, static_cast<int>(left)) != 1) return Fail("send: timed out");
    const ssize_t n = send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n <= 0 && errno != EAGAIN) return Fail(std::string("send: ") + strerror(errno));
    if (n > 0) sent += static_cast<size_t>(n);
  }
  std::string resp;
  while (resp.find("\r\n") == std::string::npos && resp.size() < 4096) {
    struct pollfd p = {fd, POLLIN, 0};
    const long left = deadline - NowMs();
    if (left <= 0 || poll(&p, 1, static_cast<int>(left)) != 1) return Fail("response: timed out");
    char buf[1024];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0 && errno != EAGAIN) return Fail(std::string("recv: ") + strerror(errno));
    if (n > 0) resp.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  const std::string line = resp.substr(0, resp.find("\r\n"));
  int status = 0;
  if (sscanf(line.c_str(), "HTTP/%*d.%*d %d", &status) != 1) {
    return Fail("not an HTTP response: " + line.substr(0, 200));
  }
  const bool ok = expect != 0 ? status == expect : (status >= 200 && status < 300);
  printf("HTTP %d\n", status);
  return ok ? 0 : 1;
}

}  // namespace

int RunProbe(int argc, char** argv) {
  if (argc < 6) return Fail("usage: zlayer-monitor probe tcp|http PID ...");
  const std::string kind = argv[2];
  if (!EnterNetns(argv[3])) {
    return Fail(std::string("cannot enter the network namespace of pid ") + argv[3] + ": " +
                strerror(errno));
  }
  if (kind == "tcp" && argc == 6) {
    const long deadline = NowMs() + atol(argv[5]);
    std::string why;
    const int fd = Connect("127.0.0.1", atoi(argv[4]), deadline, &why);
    if (fd < 0) return Fail(why);
    close(fd);
    printf("connected to port %s\n", argv[4]);
    return 0;
  }
  if (kind == "http" && argc == 7) {
    return ProbeHttp(argv[4], atoi(argv[5]), NowMs() + atol(argv[6]));
  }
  return Fail("usage: zlayer-monitor probe tcp PID PORT TIMEOUT_MS | "
              "probe http PID URL EXPECT TIMEOUT_MS");
}

}  // namespace zlayer::monitor
