// `zlayer-monitor probe tcp NS PORT TIMEOUT_MS`
// `zlayer-monitor probe tcp NS HOST PORT TIMEOUT_MS`
// `zlayer-monitor probe http NS URL EXPECT_STATUS TIMEOUT_MS`
// `zlayer-monitor probe wait tcp NS HOST PORT TIMEOUT_MS`
// `zlayer-monitor probe wait http NS URL EXPECT_STATUS TIMEOUT_MS`
//
// Network checks for the agent: health probes (one try) and init steps' waits
// ("wait": try again every 250 ms until TIMEOUT_MS has passed). They must run in the
// container's network namespace, and entering a namespace is something a
// multi-threaded agent must never do to one of its own threads, so a short-lived
// process does it. NS is a pid (its namespace is entered), the path of a bound
// namespace (a container's netns, which exists before any of its processes), or
// "host" (the container shares the host's network: nothing to enter). Exit 0 = the
// check passed; the first line of output says what was found, or the last reason
// it failed.
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

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace zlayer::monitor {
namespace {

constexpr long kWaitRetryMs = 250;
// A wait's single connect gives up after this and tries again: a SYN sent before
// the peer's address existed is otherwise retransmitted only after seconds.
constexpr long kWaitConnectMs = 2000;

long NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int Fail(const std::string& why) {
  printf("%s\n", why.c_str());
  return 1;
}

// strerror in lower case ("connection refused"), as the rest of a reason is.
std::string Errno(int err) {
  std::string s = strerror(err);
  if (!s.empty()) s[0] = static_cast<char>(tolower(static_cast<unsigned char>(s[0])));
  return s;
}

// Enters the namespace NS names; false with a reason.
bool EnterNetns(const std::string& ns, std::string* why) {
  if (ns == "host") return true;
  std::string path = ns;
  if (ns.empty() || ns[0] != '/') {
    if (ns.empty() || ns.find_first_not_of("0123456789") != std::string::npos) {
      *why = "network namespace '" + ns + "' is not a pid, a path or \"host\"";
      return false;
    }
    path = "/proc/" + ns + "/ns/net";
  }
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
    const int err = errno;
    if (fd >= 0) close(fd);
    *why = (ns[0] == '/' ? "cannot enter the network namespace " + ns
                         : "cannot enter the network namespace of pid " + ns) +
           ": " + Errno(err);
    return false;
  }
  close(fd);
  return true;
}

// Connects within the deadline; -1 and a reason on failure.
int Connect(const std::string& host, int port, long deadline, std::string* why) {
  struct sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  // Names resolve inside the container in Docker; here only addresses and
  // "localhost" are supported, which covers a check of the container itself.
  const std::string ip = (host.empty() || host == "localhost") ? "127.0.0.1" : host;
  const std::string where = "connect " + ip + ":" + std::to_string(port);
  if (inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1) {
    *why = "host '" + host + "' is not an IPv4 address or localhost";
    return -1;
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    *why = "socket: " + Errno(errno);
    return -1;
  }
  if (connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) != 0 &&
      errno != EINPROGRESS) {
    *why = where + ": " + Errno(errno);
    close(fd);
    return -1;
  }
  struct pollfd p = {fd, POLLOUT, 0};
  const long left = deadline - NowMs();
  if (left <= 0 || poll(&p, 1, static_cast<int>(left)) != 1) {
    *why = where + ": timed out";
    close(fd);
    return -1;
  }
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    *why = where + ": " + Errno(err);
    close(fd);
    return -1;
  }
  return fd;
}

bool CheckTcp(const std::string& host, int port, long deadline, std::string* what) {
  const int fd = Connect(host, port, deadline, what);
  if (fd < 0) return false;
  close(fd);
  *what = "connected to " + (host.empty() ? std::string("127.0.0.1") : host) + ":" +
          std::to_string(port);
  return true;
}

bool CheckHttp(const std::string& url, int expect, long deadline, std::string* what) {
  // http://host[:port][/path]
  if (url.compare(0, 7, "http://") != 0) {
    *what = "url '" + url + "' is not http://";
    return false;
  }
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
  const int fd = Connect(host, port, deadline, what);
  if (fd < 0) return false;
  auto fail = [&](const std::string& why) {
    close(fd);
    *what = why;
    return false;
  };
  const std::string req = "GET " + path + " HTTP/1.0\r\nHost: " + hostport +
                          "\r\nUser-Agent: zlayer-health\r\nConnection: close\r\n\r\n";
  size_t sent = 0;
  while (sent < req.size()) {
    struct pollfd p = {fd, POLLOUT, 0};
    const long left = deadline - NowMs();
    if (left <= 0 || poll(&p, 1, static_cast<int>(left)) != 1) return fail("send: timed out");
    const ssize_t n = send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n <= 0 && errno != EAGAIN) return fail("send: " + Errno(errno));
    if (n > 0) sent += static_cast<size_t>(n);
  }
  std::string resp;
  while (resp.find("\r\n") == std::string::npos && resp.size() < 4096) {
    struct pollfd p = {fd, POLLIN, 0};
    const long left = deadline - NowMs();
    if (left <= 0 || poll(&p, 1, static_cast<int>(left)) != 1) return fail("response: timed out");
    char buf[1024];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0 && errno != EAGAIN) return fail("recv: " + Errno(errno));
    if (n > 0) resp.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  const std::string line = resp.substr(0, resp.find("\r\n"));
  int status = 0;
  if (sscanf(line.c_str(), "HTTP/%*d.%*d %d", &status) != 1) {
    *what = "GET " + url + ": not an HTTP response: " + line.substr(0, 200);
    return false;
  }
  *what = "HTTP " + std::to_string(status);
  if (expect != 0 ? status == expect : (status >= 200 && status < 300)) return true;
  *what = "GET " + url + ": HTTP " + std::to_string(status) + " (want " +
          (expect != 0 ? std::to_string(expect) : std::string("2xx")) + ")";
  return false;
}

}  // namespace

int RunProbe(int argc, char** argv) {
  // argv: zlayer-monitor probe [wait] KIND NS ARGS... TIMEOUT_MS
  int i = 2;
  const bool wait = argc > i && std::string(argv[i]) == "wait";
  if (wait) ++i;
  const int n = argc - i;  // KIND NS ARGS... TIMEOUT_MS
  const std::string kind = n >= 1 ? argv[i] : "";
  std::string host, url;
  int port = 0, expect = 0;
  long timeout_ms = -1;
  if (kind == "tcp" && n == 4 && !wait) {  // the health check's form: localhost
    port = atoi(argv[i + 2]);
    timeout_ms = atol(argv[i + 3]);
  } else if (kind == "tcp" && n == 5) {
    host = argv[i + 2];
    port = atoi(argv[i + 3]);
    timeout_ms = atol(argv[i + 4]);
  } else if (kind == "http" && n == 5) {
    url = argv[i + 2];
    expect = atoi(argv[i + 3]);
    timeout_ms = atol(argv[i + 4]);
  }
  if (timeout_ms < 0 || (kind == "tcp" && (port <= 0 || port > 65535))) {
    return Fail("usage: zlayer-monitor probe [wait] tcp NS [HOST] PORT TIMEOUT_MS | "
                "probe [wait] http NS URL EXPECT TIMEOUT_MS (NS: pid, netns path or host)");
  }
  std::string why;
  if (!EnterNetns(argv[i + 1], &why)) return Fail(why);
  const long deadline = NowMs() + timeout_ms;
  for (;;) {
    // One try is bounded by the whole deadline, except a wait's connect, which is
    // tried again (see kWaitConnectMs).
    const long attempt_deadline =
        wait && kind == "tcp" ? std::min(deadline, NowMs() + kWaitConnectMs) : deadline;
    std::string what;
    const bool ok = kind == "tcp" ? CheckTcp(host, port, attempt_deadline, &what)
                                  : CheckHttp(url, expect, deadline, &what);
    if (ok) {
      printf("%s\n", what.c_str());
      return 0;
    }
    const long left = deadline - NowMs();
    if (!wait || left <= 0) return Fail(what);
    usleep(static_cast<useconds_t>(std::min(left, kWaitRetryMs) * 1000));
    if (deadline - NowMs() <= 0) return Fail(what);
  }
}

}  // namespace zlayer::monitor
