#include "registry_fixture.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "images/http_client.h"
#include "support/test_support.h"

namespace zlayer::images::testing {
namespace {

void Fail(const std::string& what) { throw std::runtime_error(what); }

void WriteFile(const std::string& path, const std::string& data) {
  auto s = base::WriteFileAtomic(path, data, 0600, /*durable=*/false);
  if (!s.ok()) Fail(std::string(s.message()));
}

// Reads one line from `fd` within `timeout`.
std::string ReadLine(int fd, absl::Duration timeout) {
  std::string line;
  const absl::Time deadline = absl::Now() + timeout;
  while (line.find('\n') == std::string::npos) {
    struct pollfd p = {fd, POLLIN, 0};
    const int ms = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (ms <= 0 || ::poll(&p, 1, ms) <= 0) Fail("timed out reading from child: " + line);
    char buf[256];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) Fail("child closed its output: " + line);
    line.append(buf, static_cast<size_t>(n));
  }
  return line.substr(0, line.find('\n'));
}

}  // namespace

std::string Run(const std::vector<std::string>& argv_in) {
  std::vector<std::string> argv = argv_in;
  auto path = base::FindExecutable(argv[0]);
  if (!path.ok()) Fail(absl::StrCat("no ", argv[0], ": ", path.status().message()));
  argv[0] = *path;
  base::RunOptions o;
  o.argv = argv;
  o.env = base::CurrentEnvironment();
  o.timeout = absl::Seconds(60);
  auto r = base::RunCommand(o);
  if (!r.ok()) Fail(absl::StrCat(absl::StrJoin(argv, " "), ": ", r.status().message()));
  if (!r->ok()) Fail(absl::StrCat(absl::StrJoin(argv, " "), " failed: ", r->err));
  return r->out;
}

int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) Fail("bind");
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

TestRegistry::TestRegistry(RegistryOptions options)
    : options_(std::move(options)), dir_(zlayer::testing::MakeTempDir("zreg-")) {
  const std::string d = dir_.path();
  host_ = absl::StrCat("127.0.0.1:", FreePort());
  if (options_.tls) WriteCerts();
  if (options_.token_auth) StartTokenServer();

  std::string auth;
  if (!options_.user.empty()) {
    const std::string hash = Run({"htpasswd", "-nbB", options_.user, options_.password});
    WriteFile(d + "/htpasswd", hash);
    auth = absl::StrCat("auth:\n  htpasswd:\n    realm: zlayer-test\n    path: ", d, "/htpasswd\n");
  } else if (options_.token_auth) {
    auth = absl::StrCat("auth:\n  token:\n    realm: ", token_realm_, "\n    service: ",
                        kTokenService, "\n    issuer: zlayer-test-issuer\n    rootcertbundle: ",
                        d, "/token.crt\n");
  }
  std::string tls;
  if (options_.tls) {
    tls = absl::StrCat("  tls:\n    certificate: ", d, "/server.crt\n    key: ", d,
                       "/server.key\n");
  }
  WriteFile(d + "/config.yml",
            absl::StrCat("version: 0.1\n"
                         "log:\n  level: warn\n  formatter: text\n"
                         "storage:\n  filesystem:\n    rootdirectory: ", d, "/data\n"
                         "  delete:\n    enabled: true\n"
                         "  maintenance:\n    uploadpurging:\n      enabled: false\n"
                         "http:\n  addr: ", host_, "\n  secret: zlayer-test-secret\n", tls,
                         auth));
  Spawn();
}

void TestRegistry::Spawn() {
  const std::string d = dir_.path();
  base::UniqueFd log(
      ::open((d + "/registry.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  base::SpawnOptions so;
  so.argv = {"/usr/bin/docker-registry", "serve", d + "/config.yml"};
  so.env = {"PATH=/usr/bin:/bin", "HOME=" + d};
  so.stdout_fd = log.get();
  so.stderr_fd = log.get();
  auto child = base::ChildProcess::Spawn(so);
  if (!child.ok()) Fail(std::string(child.status().message()));
  registry_.emplace(*std::move(child));
  WaitReady();
}

TestRegistry::~TestRegistry() = default;  // ChildProcess kills and reaps

void TestRegistry::WriteCerts() {
  const std::string d = dir_.path();
  const std::vector<std::string> ec = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"};
  std::vector<std::string> ca = {"openssl", "req", "-x509"};
  ca.insert(ca.end(), ec.begin(), ec.end());
  for (const char* a : {"-nodes", "-days", "2", "-subj", "/CN=zlayer test CA", "-addext",
                        "basicConstraints=critical,CA:TRUE", "-addext",
                        "keyUsage=critical,keyCertSign,cRLSign"}) {
    ca.push_back(a);
  }
  ca.insert(ca.end(), {"-keyout", d + "/ca.key", "-out", d + "/ca.crt"});
  Run(ca);
  std::vector<std::string> csr = {"openssl", "req"};
  csr.insert(csr.end(), ec.begin(), ec.end());
  csr.insert(csr.end(), {"-nodes", "-subj", "/CN=127.0.0.1", "-keyout", d + "/server.key", "-out",
                         d + "/server.csr"});
  Run(csr);
  WriteFile(d + "/ext.cnf", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  Run({"openssl", "x509", "-req", "-in", d + "/server.csr", "-CA", d + "/ca.crt", "-CAkey",
       d + "/ca.key", "-CAcreateserial", "-days", "2", "-extfile", d + "/ext.cnf", "-out",
       d + "/server.crt"});
  ca_file_ = d + "/ca.crt";
}

void TestRegistry::StartTokenServer() {
  const std::string d = dir_.path();
  Run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
       "/CN=zlayer test token signer", "-keyout", d + "/token.key", "-out", d + "/token.crt"});
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) Fail("pipe");
  base::UniqueFd rd(fds[0]), wr(fds[1]);
  base::SpawnOptions so;
  so.argv = {"/usr/bin/python3", zlayer::testing::SourcePath("tests/images/token_server.py"),
             "--key", d + "/token.key", "--cert", d + "/token.crt", "--service", kTokenService,
             "--issuer", "zlayer-test-issuer", "--user", "pusher:push-secret:push",
             "--user", "reader:read-secret:pull"};
  so.env = {"PATH=/usr/bin:/bin"};
  so.stdout_fd = wr.get();
  auto child = base::ChildProcess::Spawn(so);
  if (!child.ok()) Fail(std::string(child.status().message()));
  token_server_.emplace(*std::move(child));
  wr.Reset();
  const std::string line = ReadLine(rd.get(), absl::Seconds(20));  // "PORT <n>"
  if (line.rfind("PORT ", 0) != 0) Fail("token server said: " + line);
  token_realm_ = absl::StrCat("http://127.0.0.1:", line.substr(5), "/token");
}

void TestRegistry::WaitReady() {
  auto trust = TlsTrust::Load(ca_file_);
  HttpClient http(*trust);
  HttpRequest req;
  req.url = base_url() + "/v2/";
  req.connect_timeout = absl::Seconds(1);
  // docker-registry gives no readiness signal; poll until it answers HTTP.
  const bool ok = zlayer::testing::WaitFor(
      [&] {
        auto r = http.Do(req);
        return r.ok() && r->status > 0;
      },
      absl::Seconds(20), absl::Milliseconds(20));
  if (!ok) {
    auto log = base::ReadFile(dir_.path() + "/registry.log");
    Fail("docker-registry did not start: " + (log.ok() ? *log : std::string()));
  }
}

PushTarget TestRegistry::pusher() const {
  PushTarget t;
  t.base_url = base_url();
  t.ca_file = ca_file_;
  if (!options_.user.empty()) {
    std::string b64;
    absl::Base64Escape(options_.user + ":" + options_.password, &b64);
    t.auth_header = "Authorization: Basic " + b64;
  }
  return t;
}

std::string TestRegistry::BlobDataPath(const std::string& digest) const {
  const std::string hex = digest.substr(7);
  return absl::StrCat(dir_.path(), "/data/docker/registry/v2/blobs/sha256/", hex.substr(0, 2), "/",
                      hex, "/data");
}

void TestRegistry::Kill() {
  if (registry_) {
    (void)registry_->Signal(SIGKILL);
    (void)registry_->Wait(absl::Now() + absl::Seconds(10));
    registry_.reset();
  }
}

void TestRegistry::Restart() {
  Kill();
  Spawn();
}

}  // namespace zlayer::images::testing
