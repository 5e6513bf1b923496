// Decides whether the agent deserves to tell systemd it is alive. A ping is sent
// only when both the gRPC event loop (an in-process health call came back) and the
// work queue (tasks complete, or none wait) have made progress recently; a wedged
// agent stops pinging and systemd restarts it.
#pragma once

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/work_queue.h"

namespace zlayer::agentd {

class LivenessProbe {
 public:
  // `interval`: how often Tick is called (half of WATCHDOG_USEC).
  LivenessProbe(grpc::Server* server, base::WorkQueue* queue, absl::Duration interval);

  // Starts a new event-loop probe and reports whether the agent is healthy now.
  // `why` says what is stuck when it is not.
  bool Tick(std::string* why);

 private:
  void StartProbe();

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::GenericStub> stub_;
  base::WorkQueue* queue_;
  const absl::Duration interval_;
  absl::Mutex mu_;
  absl::Time last_probe_ok_ ABSL_GUARDED_BY(mu_);
  bool probe_in_flight_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace zlayer::agentd
