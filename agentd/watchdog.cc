#include "agentd/watchdog.h"

#include <grpcpp/generic/generic_stub.h>

#include "absl/strings/str_cat.h"

namespace zlayer::agentd {

std::string JudgeLiveness(const LivenessInput& in, const LivenessOptions& options) {
  // Probes start every interval and normally return within milliseconds, so a
  // healthy loop answered less than one interval ago. Half an interval of slack
  // absorbs timer jitter; one unanswered probe is enough to withhold the ping.
  const absl::Duration loop_silence = in.now - in.last_probe_ok;
  if (loop_silence > options.interval * 3 / 2) {
    return absl::StrCat("the gRPC event loop has not answered a health check for ",
                        absl::FormatDuration(absl::Trunc(loop_silence, absl::Milliseconds(1))));
  }
  const absl::Duration queue_silence = in.now - in.queue.last_progress;
  if (in.queue.pending > 0 && queue_silence > options.queue_stall_timeout) {
    return absl::StrCat("the work queue has ", in.queue.pending, " waiting and ",
                        in.queue.running, " running tasks and has finished none for ",
                        absl::FormatDuration(absl::Trunc(queue_silence, absl::Seconds(1))));
  }
  return {};
}

LivenessProbe::LivenessProbe(std::shared_ptr<grpc::Channel> channel, base::WorkQueue* queue,
                             LivenessOptions options)
    : channel_(std::move(channel)),
      stub_(std::make_unique<grpc::GenericStub>(channel_)),
      queue_(queue),
      options_(options) {
  absl::MutexLock lock(&state_->mu);
  state_->last_probe_ok = absl::Now();
}

LivenessProbe::~LivenessProbe() {
  absl::MutexLock lock(&state_->mu);
  if (state_->in_flight != nullptr) state_->in_flight->TryCancel();
}

void LivenessProbe::StartProbe() {
  // A health check of the overall service (an empty HealthCheckRequest), sent
  // through a real transport to our own server.
  struct Call {
    grpc::ClientContext context;
    grpc::ByteBuffer request, response;
  };
  auto call = std::make_shared<Call>();
  // An empty message, but a message: a default ByteBuffer is "no message", which
  // gRPC rejects as API misuse (and aborts on).
  grpc::Slice empty("");
  call->request = grpc::ByteBuffer(&empty, 1);
  {
    absl::MutexLock lock(&state_->mu);
    if (state_->in_flight != nullptr) return;  // still waiting: that is the signal
    state_->in_flight = &call->context;
  }
  call->context.set_deadline(absl::ToChronoTime(absl::Now() + options_.interval));
  stub_->UnaryCall(&call->context, "/grpc.health.v1.Health/Check", grpc::StubOptions(),
                   &call->request, &call->response,
                   [state = state_, call](grpc::Status status) {
                     absl::MutexLock lock(&state->mu);
                     state->in_flight = nullptr;
                     if (status.ok()) state->last_probe_ok = absl::Now();
                   });
}

bool LivenessProbe::Tick(std::string* why) {
  LivenessInput in;
  in.now = absl::Now();
  {
    absl::MutexLock lock(&state_->mu);
    in.last_probe_ok = state_->last_probe_ok;
  }
  in.queue = queue_->GetProgress();
  StartProbe();
  *why = JudgeLiveness(in, options_);
  return why->empty();
}

}  // namespace zlayer::agentd
