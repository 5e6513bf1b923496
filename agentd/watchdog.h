// Decides whether the agent deserves to tell systemd it is alive (WATCHDOG=1).
//
// Two things must be turning:
//  - gRPC's event loop: every tick starts a health check over a real transport to
//    our own server (AgentServer::SelfChannel); the previous tick's check must have
//    come back. That needs gRPC's pollers and callback threads, the same ones every
//    client call needs, so a reaction that blocks them all, or a deadlock inside
//    gRPC, stops the pings.
//  - the work queue: when tasks are waiting, some task must have finished within
//    `queue_stall_timeout`. Pulls and buffered execs legitimately hold a worker for
//    minutes, so this bound is much longer than the ping interval; it catches a
//    pool whose workers are all deadlocked, not a busy one.
// A wedged agent stops pinging and systemd restarts it (WatchdogSec=); containers
// keep running under their monitors and the new agent re-adopts them.
#pragma once

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/work_queue.h"

namespace zlayer::agentd {

struct LivenessOptions {
  // How often Tick is called: half of WATCHDOG_USEC.
  absl::Duration interval = absl::Seconds(15);
  // Waiting work with nothing finished for this long means the pool is wedged.
  absl::Duration queue_stall_timeout = absl::Minutes(5);
};

// The verdict from the raw observations; pure, for unit tests.
struct LivenessInput {
  absl::Time now;
  // When a probe last came back OK (the start time if none has yet).
  absl::Time last_probe_ok;
  base::WorkQueue::Progress queue;
};
// Returns "" when healthy, else what is stuck.
std::string JudgeLiveness(const LivenessInput& in, const LivenessOptions& options);

class LivenessProbe {
 public:
  // `channel` reaches the agent's own server (see AgentServer::SelfChannel).
  LivenessProbe(std::shared_ptr<grpc::Channel> channel, base::WorkQueue* queue,
                LivenessOptions options);
  // Cancels a probe still in flight; its callback may still run later and touches
  // only the shared state it holds.
  ~LivenessProbe();

  // Called from main every `interval`: judges the agent on what earlier probes
  // saw, then starts the next probe. True when a ping is deserved; `why` says what
  // is stuck when not.
  bool Tick(std::string* why);

 private:
  struct State {
    absl::Mutex mu;
    absl::Time last_probe_ok ABSL_GUARDED_BY(mu);
    // The probe in flight (owned by its call), or null.
    grpc::ClientContext* in_flight ABSL_GUARDED_BY(mu) = nullptr;
  };

  void StartProbe();

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::GenericStub> stub_;
  base::WorkQueue* queue_;
  const LivenessOptions options_;
  const std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace zlayer::agentd
