// Ctrl-C and friends for zlayerctl.
//
// gRPC runs threads of its own, and a signal may land on any thread that does not
// block it. So main blocks SIGINT, SIGTERM and SIGHUP before anything else starts a
// thread (every later thread inherits the mask), and one thread of ours takes them
// with sigwaitinfo. By default a signal ends the process with 128 + signal, as if it
// had not been caught. A command may install a handler instead: `run` forwards the
// first Ctrl-C to its container and only gives up on the second.
#pragma once

#include <functional>

namespace zlayer::cli {

// Returns true when it dealt with the signal; false falls back to exiting.
using SignalHandler = std::function<bool(int signo)>;

class SignalThread {
 public:
  // Blocks the signals in the calling thread and starts the waiting thread. Call at
  // the top of main, before any gRPC call.
  SignalThread();
  // Stops and joins the waiting thread.
  ~SignalThread();
  SignalThread(const SignalThread&) = delete;
  SignalThread& operator=(const SignalThread&) = delete;

  // Replaces the handler (nullptr = the default). Safe from any thread; the handler
  // runs on the signal thread and may block (it may make an RPC).
  static void SetHandler(SignalHandler handler);
};

}  // namespace zlayer::cli
