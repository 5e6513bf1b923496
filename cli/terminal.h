// A full-screen session on the terminal, for `zlayerctl top`: the alternate screen,
// a hidden cursor and unbuffered, unechoed keys, all put back however the command
// ends (a key, a signal, an error on the way).
//
// Signals reach the session through one self-pipe: SIGINT, SIGTERM and SIGHUP arrive
// on the SignalThread (signals.h), whose handler this installs; SIGWINCH is not
// blocked by main, so it gets a plain sigaction handler that only writes a byte.
// Either way the command's poll() wakes up and returns normally, so destructors run
// and the terminal is restored before the process exits.
#pragma once

#include <termios.h>

#include <deque>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace zlayer::cli {

struct TerminalSize {
  int rows = 24;
  int cols = 80;
};

// What woke Wait() up.
struct TerminalEvent {
  enum Kind {
    kTimeout,  // the deadline passed
    kKey,      // `key` was typed
    kResize,   // SIGWINCH: ask size() again
    kSignal,   // `signal` (SIGINT, SIGTERM or SIGHUP) asks the command to end
    kClosed,   // the terminal's input is gone (hangup): nothing more will be typed
  };
  Kind kind = kTimeout;
  char key = 0;
  int signal = 0;
};

class RawTerminal {
 public:
  // Takes over `out_fd` (a terminal) and, when it is one too, `in_fd`. Fails only
  // when the terminal cannot be set up (tcsetattr, pipe2); nothing is left changed
  // then. One session at a time per process.
  static absl::StatusOr<std::unique_ptr<RawTerminal>> Create(int in_fd, int out_fd);
  ~RawTerminal() { Restore(); }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

  // Puts back the screen, the cursor, the tty modes and the signal handlers. Safe to
  // call more than once; the destructor calls it.
  void Restore();

  // The window size now (24x80 when the terminal does not say).
  TerminalSize Size() const;

  // Blocks until a key, a signal, a resize, or `deadline`; keys typed together come
  // out one per call. Signals take precedence over keys.
  absl::StatusOr<TerminalEvent> Wait(absl::Time deadline);

  // Writes all of `text` to the terminal; an error when it has gone (EIO after a
  // hangup).
  absl::Status Write(absl::string_view text);

 private:
  RawTerminal(int in_fd, int out_fd) : tty_in_fd_(in_fd), in_fd_(in_fd), out_fd_(out_fd) {}

  const int tty_in_fd_;  // -1 when stdin is not a terminal: no modes to set, no keys
  int in_fd_;            // what Wait() polls for keys; -1 once it hung up
  int out_fd_;
  bool active_ = false;
  bool termios_saved_ = false;
  struct termios saved_termios_ {};
  std::deque<char> pending_keys_;
};

}  // namespace zlayer::cli
