#include "cli/signals.h"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace zlayer::cli {
namespace {

std::mutex g_mu;
SignalHandler g_handler;  // guarded by g_mu
std::atomic<bool> g_stopping{false};
std::thread g_thread;

// SIGUSR2 only wakes the thread for shutdown; it is not a user-facing signal here.
sigset_t WaitedSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR2);
  return set;
}

void Loop() {
  const sigset_t set = WaitedSignals();
  for (;;) {
    siginfo_t info;
    const int signo = sigwaitinfo(&set, &info);
    if (signo < 0) continue;  // EINTR
    if (g_stopping.load()) return;
    if (signo == SIGUSR2) continue;
    SignalHandler handler;
    {
      std::lock_guard<std::mutex> lock(g_mu);
      handler = g_handler;
    }
    if (handler && handler(signo)) continue;
    std::fflush(stdout);
    std::_Exit(128 + signo);
  }
}

}  // namespace

SignalThread::SignalThread() {
  const sigset_t set = WaitedSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  g_thread = std::thread(Loop);
}

SignalThread::~SignalThread() {
  g_stopping.store(true);
  pthread_kill(g_thread.native_handle(), SIGUSR2);
  g_thread.join();
}

void SignalThread::SetHandler(SignalHandler handler) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_handler = std::move(handler);
}

}  // namespace zlayer::cli
