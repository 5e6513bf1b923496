#include "sd_test_support.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "base/process.h"

namespace zlayer::testing {

bool Notification::Has(const std::string& key, const std::string& value) const {
  auto it = fields.find(key);
  return it != fields.end() && (value.empty() || it->second == value);
}

std::string Notification::Get(const std::string& key) const {
  auto it = fields.find(key);
  return it == fields.end() ? std::string() : it->second;
}

NotifySocket::NotifySocket(const std::string& path) : path_(path) {
  fd_.Reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd_) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) throw std::runtime_error("path too long: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error("bind " + path + ": " + std::strerror(errno));
  }
  // systemd learns the sender from SCM_CREDENTIALS; so do we.
  const int one = 1;
  ::setsockopt(fd_.get(), SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
}

NotifySocket::~NotifySocket() { ::unlink(path_.c_str()); }

std::optional<Notification> NotifySocket::Next(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    const int64_t ms = std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now()));
    struct pollfd pfd = {fd_.get(), POLLIN, 0};
    const int n = ::poll(&pfd, 1, static_cast<int>(ms));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    char buf[65536];
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(struct ucred))];
    struct iovec iov = {buf, sizeof buf};
    struct msghdr msg {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t len = ::recvmsg(fd_.get(), &msg, MSG_DONTWAIT);
    if (len < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      throw std::runtime_error("recvmsg: " + std::string(std::strerror(errno)));
    }
    Notification note;
    note.at = absl::Now();
    note.text.assign(buf, static_cast<size_t>(len));
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
        struct ucred cred;
        std::memcpy(&cred, CMSG_DATA(c), sizeof cred);
        note.sender = cred.pid;
      }
    }
    for (absl::string_view line : absl::StrSplit(note.text, '\n', absl::SkipEmpty())) {
      const auto eq = line.find('=');
      if (eq == absl::string_view::npos) continue;
      note.fields[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
    }
    return note;
  }
}

std::optional<Notification> NotifySocket::WaitFor(const std::string& key,
                                                  const std::string& value,
                                                  absl::Duration timeout,
                                                  std::vector<Notification>* seen) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    auto note = Next(deadline - absl::Now());
    if (!note) return std::nullopt;
    if (seen) seen->push_back(*note);
    if (note->Has(key, value)) return note;
  }
  return std::nullopt;
}

OutputCollector::OutputCollector() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
  read_.Reset(fds[0]);
  write_.Reset(fds[1]);
  wake_.Reset(::eventfd(0, EFD_CLOEXEC));
  if (!wake_) throw std::runtime_error("eventfd");
  reader_ = std::thread([this] { Run(); });
}

OutputCollector::~OutputCollector() {
  write_.Reset();
  // The reader ends at EOF, once every process holding the pipe has exited; a
  // stray holder must not hang the test, so after a bound the reader is woken.
  {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&eof_), absl::Seconds(5));
  }
  const uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
  reader_.join();
}

void OutputCollector::Run() {
  char buf[8192];
  for (;;) {
    struct pollfd fds[2] = {{read_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    const ssize_t n = ::read(read_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    absl::MutexLock lock(&mu_);
    if (n <= 0) {
      eof_ = true;
      return;
    }
    text_.append(buf, static_cast<size_t>(n));
  }
}

bool OutputCollector::WaitForText(const std::string& text, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto found = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return eof_ || text_.find(text) != std::string::npos;
  };
  mu_.AwaitWithTimeout(absl::Condition(&found), timeout);
  return text_.find(text) != std::string::npos;
}

std::string OutputCollector::Text() const {
  absl::MutexLock lock(&mu_);
  return text_;
}

LaunchedProcess::LaunchedProcess(const LaunchOptions& options) {
  // Everything the child needs is prepared here: after fork it may only make
  // async-signal-safe calls.
  std::vector<std::string> env = options.env;
  if (options.journal_stream) {
    struct stat st;
    if (::fstat(options.output_fd, &st) != 0) throw std::runtime_error("fstat output");
    env.push_back(absl::StrCat("JOURNAL_STREAM=", st.st_dev, ":", st.st_ino));
  }
  // "WATCHDOG_PID=" and "LISTEN_PID=" followed by room for the digits, filled in
  // by the child.
  std::string watchdog_pid = "WATCHDOG_PID=" + std::string(20, '\0');
  std::string listen_pid = "LISTEN_PID=" + std::string(20, '\0');
  std::string listen_fds = "LISTEN_FDS=1";
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  if (options.watchdog_pid_self) envp.push_back(watchdog_pid.data());
  if (options.listen_fd >= 0) {
    envp.push_back(listen_fds.data());
    envp.push_back(listen_pid.data());
  }
  envp.push_back(nullptr);
  const int listen_fd = options.listen_fd;
  std::vector<std::string> argv_copy = options.argv;
  std::vector<char*> argv;
  for (auto& a : argv_copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  char* pid_digits = watchdog_pid.data() + std::strlen("WATCHDOG_PID=");
  char* listen_pid_digits = listen_pid.data() + std::strlen("LISTEN_PID=");
  const std::string bind_source = options.private_run_systemd;
  const int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  const int out_fd = options.output_fd >= 0 ? options.output_fd : null_fd;

  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork: " + std::string(std::strerror(errno)));
  if (pid == 0) {
    if (!bind_source.empty()) {
      if (::unshare(CLONE_NEWNS) != 0) _exit(125);
      if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) _exit(125);
      if (::mount(bind_source.c_str(), "/run/systemd", nullptr, MS_BIND, nullptr) != 0) {
        _exit(125);
      }
    }
    // The pid as decimal, without printf.
    char digits[20];
    int n = 0;
    for (pid_t p = ::getpid(); p > 0; p /= 10) digits[n++] = static_cast<char>('0' + p % 10);
    for (int i = 0; i < n; ++i) {
      pid_digits[i] = digits[n - 1 - i];
      listen_pid_digits[i] = digits[n - 1 - i];
    }
    pid_digits[n] = '\0';
    listen_pid_digits[n] = '\0';
    ::dup2(null_fd, 0);
    ::dup2(out_fd, 1);
    ::dup2(out_fd, 2);
    if (listen_fd >= 0) {
      // dup2 onto itself keeps FD_CLOEXEC; clear it explicitly then.
      if (listen_fd == 3) {
        ::fcntl(3, F_SETFD, 0);
      } else {
        ::dup2(listen_fd, 3);
      }
    }
    ::close_range(listen_fd >= 0 ? 4 : 3, ~0U, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  ::close(null_fd);
  pid_ = pid;
  pidfd_.Reset(base::PidfdOpen(pid));
  if (!pidfd_) throw std::runtime_error("pidfd_open");
}

LaunchedProcess::~LaunchedProcess() {
  if (!exit_code_ && pid_ > 0) {
    Signal(SIGKILL);
    Wait(absl::Seconds(10));
  }
}

void LaunchedProcess::Signal(int sig) {
  if (exit_code_) return;
  base::PidfdSendSignal(pidfd_.get(), sig);
}

std::optional<int> LaunchedProcess::Wait(absl::Duration timeout) {
  if (exit_code_) return exit_code_;
  struct pollfd pfd = {pidfd_.get(), POLLIN, 0};
  const int ms = static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(timeout)));
  if (::poll(&pfd, 1, ms) <= 0) return std::nullopt;
  int status = 0;
  if (::waitpid(pid_, &status, 0) != pid_) return std::nullopt;
  exit_code_ = base::ExitStatus::FromWaitStatus(status).code;
  return exit_code_;
}

int LaunchedProcess::Stop(absl::Duration timeout) {
  Signal(SIGTERM);
  if (auto code = Wait(timeout)) return *code;
  Signal(SIGKILL);
  auto code = Wait(absl::Seconds(10));
  return code ? *code : -1;
}

struct GenericCalls::Call {
  grpc::ClientContext context;
  grpc::ByteBuffer request, response;
  GenericResult result;
};

GenericCalls::GenericCalls(std::shared_ptr<grpc::Channel> channel, const std::string& method,
                           const std::string& body, int count, absl::Duration timeout)
    : channel_(std::move(channel)), stub_(std::make_unique<grpc::GenericStub>(channel_)) {
  {
    absl::MutexLock lock(&mu_);
    pending_ = count;
  }
  for (int i = 0; i < count; ++i) {
    auto call = std::make_unique<Call>();
    grpc::Slice slice(body);
    call->request = grpc::ByteBuffer(&slice, 1);
    call->context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    Call* c = call.get();
    calls_.push_back(std::move(call));
    stub_->UnaryCall(&c->context, method, grpc::StubOptions(), &c->request, &c->response,
                     [this, c](grpc::Status status) {
                       std::vector<grpc::Slice> slices;
                       std::string out;
                       if (status.ok() && c->response.Dump(&slices).ok()) {
                         for (auto& s : slices) {
                           out.append(reinterpret_cast<const char*>(s.begin()), s.size());
                         }
                       }
                       absl::MutexLock lock(&mu_);
                       c->result.code = status.error_code();
                       c->result.message = status.error_message();
                       c->result.body = std::move(out);
                       --pending_;
                     });
  }
}

GenericCalls::~GenericCalls() {
  for (auto& c : calls_) c->context.TryCancel();
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int* pending) { return *pending == 0; }, &pending_));
}

bool GenericCalls::WaitAll(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(
      absl::Condition(+[](int* pending) { return *pending == 0; }, &pending_), timeout);
}

std::vector<GenericResult> GenericCalls::Results() const {
  absl::MutexLock lock(&mu_);
  std::vector<GenericResult> out;
  for (const auto& c : calls_) out.push_back(c->result);
  return out;
}

GenericResult CallGeneric(std::shared_ptr<grpc::Channel> channel, const std::string& method,
                          const std::string& body, absl::Duration timeout) {
  GenericCalls calls(std::move(channel), method, body, 1, timeout);
  calls.WaitAll(timeout + absl::Seconds(5));
  return calls.Results()[0];
}

std::string AgentdBin() { return ZLAYER_AGENTD_BIN; }
std::string AgentdTesthooksBin() { return ZLAYER_AGENTD_TESTHOOKS_BIN; }

}  // namespace zlayer::testing
