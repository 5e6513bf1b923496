#include "agentd/watchdog.h"

#include <grpcpp/generic/generic_stub.h>

#include "absl/strings/str_cat.h"

namespace zlayer::agentd {

LivenessProbe::LivenessProbe(grpc::Server* server, base::WorkQueue* queue,
                             absl::Duration interval)
    : channel_(server->InProcessChannel(grpc::ChannelArguments())),
      stub_(std::make_unique<grpc::GenericStub>(channel_)),
      queue_(queue),
      interval_(interval),
      last_probe_ok_(absl::Now()) {}

void LivenessProbe::StartProbe() {
  {
    absl::MutexLock lock(&mu_);
    if (probe_in_flight_) return;
    probe_in_flight_ = true;
  }
  // A health check through the server's own completion queues: it comes back only
  // if gRPC's event loop is turning. An empty message is a valid HealthCheckRequest
  // for the overall service "", so no generated health types are needed.
  struct Call {
    grpc::ClientContext context;
    grpc::ByteBuffer request, response;
  };
  auto call = std::make_shared<Call>();
  call->context.set_deadline(absl::ToChronoTime(absl::Now() + interval_));
  stub_->UnaryCall(&call->context, "/grpc.health.v1.Health/Check", grpc::StubOptions(),
                   &call->request, &call->response, [this, call](grpc::Status status) {
                     absl::MutexLock lock(&mu_);
                     probe_in_flight_ = false;
                     if (status.ok()) last_probe_ok_ = absl::Now();
                   });
}

bool LivenessProbe::Tick(std::string* why) {
  const absl::Time now = absl::Now();
  bool loop_ok;
  {
    absl::MutexLock lock(&mu_);
    loop_ok = now - last_probe_ok_ <= 2 * interval_;
  }
  StartProbe();
  const auto progress = queue_->GetProgress();
  const bool queue_ok = progress.pending == 0 || now - progress.last_progress <= 2 * interval_;
  if (!loop_ok) {
    *why = "the gRPC event loop has not answered an in-process health check";
  } else if (!queue_ok) {
    *why = absl::StrCat("the work queue has ", progress.pending, " waiting tasks and has ",
                        "finished none for ", absl::FormatDuration(now - progress.last_progress));
  }
  return loop_ok && queue_ok;
}

}  // namespace zlayer::agentd
