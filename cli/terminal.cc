#include "cli/terminal.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/signals.h"

namespace zlayer::cli {
namespace {

// Entering: the alternate screen (so the shell's screen comes back untouched), the
// cursor hidden, the screen cleared. Leaving undoes both, cursor first so that it
// is visible again even if the terminal ignores 1049.
constexpr absl::string_view kEnter = "\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J";
constexpr absl::string_view kLeave = "\x1b[?25h\x1b[?1049l";

absl::Status ErrnoError(absl::string_view what) {
  const int err = errno;  // before StrCat can clobber it
  return absl::ErrnoToStatus(err, absl::StrCat("terminal: ", what));
}

// The self-pipe lives as long as the process and is never closed: a signal may land
// on any thread at any moment, even after a session ended, and a closed fd number
// that got reused would receive the byte. Bytes are signal numbers.
int g_pipe[2] = {-1, -1};
struct sigaction g_old_winch;

absl::Status EnsurePipe() {
  static std::once_flag once;
  static int error = 0;
  std::call_once(once, [] {
    if (::pipe2(g_pipe, O_CLOEXEC | O_NONBLOCK) != 0) error = errno;
  });
  return error ? absl::ErrnoToStatus(error, "terminal: pipe2") : absl::OkStatus();
}

// Async-signal-safe: one write, errno kept for the code it interrupted (conmon's
// self_pipe.c does the same). A full pipe already says "something happened".
void OnWinch(int) {
  const int saved = errno;
  const char byte = SIGWINCH;
  [[maybe_unused]] ssize_t n = ::write(g_pipe[1], &byte, 1);
  errno = saved;
}

void DrainPipe(bool* resized, int* signal) {
  char buf[64];
  for (ssize_t n; (n = ::read(g_pipe[0], buf, sizeof buf)) > 0;) {
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] == SIGWINCH) {
        *resized = true;
      } else {
        *signal = buf[i];
      }
    }
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<RawTerminal>> RawTerminal::Create(int in_fd, int out_fd) {
  if (auto s = EnsurePipe(); !s.ok()) return s;
  bool resized = false;
  int signal = 0;
  DrainPipe(&resized, &signal);  // left over from an earlier session

  std::unique_ptr<RawTerminal> term(new RawTerminal(::isatty(in_fd) ? in_fd : -1, out_fd));
  // From here on a failure returns through `term`'s destructor, which undoes what
  // was done so far. Signals are routed first: a Ctrl-C between the mode change and
  // the handler would otherwise end the process with the tty still raw.
  term->active_ = true;
  const int write_fd = g_pipe[1];
  SignalThread::SetHandler([write_fd](int signo) {
    const char byte = static_cast<char>(signo);
    [[maybe_unused]] ssize_t n = ::write(write_fd, &byte, 1);
    return true;  // handled: the session ends through its own loop
  });
  struct sigaction winch {};
  winch.sa_handler = OnWinch;
  sigemptyset(&winch.sa_mask);
  winch.sa_flags = SA_RESTART;
  if (::sigaction(SIGWINCH, &winch, &g_old_winch) != 0) return ErrnoError("sigaction");

  if (term->tty_in_fd_ >= 0) {
    if (::tcgetattr(term->tty_in_fd_, &term->saved_termios_) != 0) return ErrnoError("tcgetattr");
    term->termios_saved_ = true;
    struct termios raw = term->saved_termios_;
    // Keys one at a time and unechoed. ISIG stays on: Ctrl-C is then a real SIGINT,
    // which the handler above turns into an orderly exit, and Ctrl-Z keeps working
    // for shells with job control.
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    if (::tcsetattr(term->tty_in_fd_, TCSANOW, &raw) != 0) return ErrnoError("tcsetattr");
  }
  if (auto s = term->Write(kEnter); !s.ok()) return s;
  return term;
}

void RawTerminal::Restore() {
  if (!std::exchange(active_, false)) return;
  Write(kLeave).IgnoreError();  // the terminal may be gone; the rest still matters
  if (termios_saved_) {
    // TCSADRAIN: the escape codes above reach the terminal before the modes change.
    ::tcsetattr(tty_in_fd_, TCSADRAIN, &saved_termios_);
    termios_saved_ = false;
  }
  ::sigaction(SIGWINCH, &g_old_winch, nullptr);
  SignalThread::SetHandler(nullptr);
}

TerminalSize RawTerminal::Size() const {
  struct winsize ws {};
  TerminalSize out;
  if (::ioctl(out_fd_, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
    out.rows = ws.ws_row;
    out.cols = ws.ws_col;
  }
  return out;
}

absl::StatusOr<TerminalEvent> RawTerminal::Wait(absl::Time deadline) {
  for (;;) {
    bool resized = false;
    int signal = 0;
    DrainPipe(&resized, &signal);
    if (signal != 0) return TerminalEvent{TerminalEvent::kSignal, 0, signal};
    if (resized) return TerminalEvent{TerminalEvent::kResize};
    if (!pending_keys_.empty()) {
      const char key = pending_keys_.front();
      pending_keys_.pop_front();
      return TerminalEvent{TerminalEvent::kKey, key};
    }
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return TerminalEvent{TerminalEvent::kTimeout};
    // Rounded up: rounding down would wake just before the deadline and spin.
    const int64_t ms = absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1)));
    struct pollfd fds[2] = {{g_pipe[0], POLLIN, 0}, {in_fd_, POLLIN, 0}};
    const int rc =
        ::poll(fds, in_fd_ >= 0 ? 2 : 1, static_cast<int>(std::min<int64_t>(ms, INT_MAX)));
    if (rc < 0) {
      if (errno == EINTR) continue;  // SIGWINCH: its byte is in the pipe
      return ErrnoError("poll");
    }
    if (in_fd_ >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      char buf[64];
      const ssize_t n = ::read(in_fd_, buf, sizeof buf);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {
        // EOF or EIO: the terminal hung up. Polling it again would spin.
        in_fd_ = -1;
        return TerminalEvent{TerminalEvent::kClosed};
      }
      pending_keys_.insert(pending_keys_.end(), buf, buf + n);
    }
  }
}

absl::Status RawTerminal::Write(absl::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(out_fd_, text.data(), text.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        // Someone made our stdout non-blocking (a shared tty); wait until it drains.
        struct pollfd out = {out_fd_, POLLOUT, 0};
        ::poll(&out, 1, 1000);
        continue;
      }
      return ErrnoError("write");
    }
    text.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace zlayer::cli
