#include "bench/harness/containerd_client.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/harness/agent_client.h"

namespace zlayer::bench {

bool IsTask(const ::containerd::v1::types::Process& p, const std::string& container_id) {
  // containerd 1.6 names the init process by the container's id and leaves
  // container_id empty; later versions fill it.
  return p.id() == container_id || p.container_id() == container_id;
}

ContainerdClient::ContainerdClient(const std::string& socket_path, std::string ns,
                                   int channel_tag)
    : ns_(std::move(ns)), stub_(cdpb::Tasks::NewStub(NewChannel(socket_path, channel_tag))) {}

std::unique_ptr<grpc::ClientContext> ContainerdClient::Context(absl::Duration timeout) const {
  auto ctx = Deadline(timeout);
  ctx->AddMetadata("containerd-namespace", ns_);
  return ctx;
}

absl::Status ContainerdClient::Metrics(const std::vector<std::string>& filters,
                                       cdpb::MetricsResponse* resp, absl::Duration timeout) {
  cdpb::MetricsRequest req;
  for (const auto& f : filters) req.add_filters(f);
  return FromGrpc(stub_->Metrics(Context(timeout).get(), req, resp), "Tasks.Metrics");
}

absl::StatusOr<cdpb::GetResponse> ContainerdClient::GetTask(const std::string& container_id,
                                                            absl::Duration timeout) {
  cdpb::GetRequest req;
  req.set_container_id(container_id);
  cdpb::GetResponse resp;
  if (auto s = FromGrpc(stub_->Get(Context(timeout).get(), req, &resp), "Tasks.Get"); !s.ok()) {
    return s;
  }
  if (!IsTask(resp.process(), container_id)) {
    return absl::InternalError(absl::StrCat("Tasks.Get of ", container_id, " answered for '",
                                            resp.process().id(), "'"));
  }
  return resp;
}

absl::Status CheckMetrics(const cdpb::MetricsResponse& resp, const std::vector<std::string>& ids) {
  if (resp.metrics_size() != static_cast<int>(ids.size())) {
    return absl::InternalError(absl::StrCat("Tasks.Metrics returned ", resp.metrics_size(),
                                            " metrics for ", ids.size(), " tasks"));
  }
  std::set<std::string> want(ids.begin(), ids.end());
  for (const auto& m : resp.metrics()) {
    if (want.erase(m.id()) != 1) {
      return absl::InternalError(
          absl::StrCat("Tasks.Metrics: unexpected or repeated task '", m.id(), "'"));
    }
    if (m.data().type_url().empty() || m.data().value().empty()) {
      return absl::InternalError(absl::StrCat("Tasks.Metrics: no data for ", m.id()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<TaskWaiters>> TaskWaiters::Open(const std::string& socket_path,
                                                               const std::string& ns,
                                                               const std::string& container_id,
                                                               int n, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::unique_ptr<TaskWaiters> w(new TaskWaiters());
  w->n_ = n;
  w->calls_.resize(static_cast<size_t>(n));
  for (int c = 0; c * kCallsPerChannel < n; ++c) {
    w->clients_.push_back(std::make_unique<ContainerdClient>(socket_path, ns, 2000 + c));
    // Connected first: calls queued on a channel still connecting may leave in
    // another order than issued, and the barrier below relies on the order.
    auto got = w->clients_.back()->GetTask(container_id, deadline - absl::Now());
    if (!got.ok()) return got.status();
    if (got->process().status() != ::containerd::v1::types::RUNNING) {
      return absl::FailedPreconditionError(
          absl::StrCat(container_id, " is not running (status ", got->process().status(), ")"));
    }
  }
  cdpb::WaitRequest req;
  req.set_container_id(container_id);
  for (size_t i = 0; i < w->calls_.size(); ++i) {
    Call& call = w->calls_[i];
    ContainerdClient& client = *w->clients_[i / kCallsPerChannel];
    // Bounded even if Close() never ran; far beyond any measurement.
    call.ctx = client.Context(absl::Minutes(10));
    call.rpc = client.stub().PrepareAsyncWait(call.ctx.get(), req, &w->cq_);
    call.rpc->StartCall();
    call.rpc->Finish(&call.resp, &call.status, reinterpret_cast<void*>(i));
    ++w->issued_;
  }
  for (auto& client : w->clients_) {
    auto got = client->GetTask(container_id, std::max(deadline - absl::Now(), absl::Seconds(1)));
    if (!got.ok()) {
      return absl::Status(got.status().code(),
                          absl::StrCat("after the Wait calls: ", got.status().message()));
    }
  }
  if (auto s = w->CheckPending(); !s.ok()) return s;
  return w;
}

TaskWaiters::~TaskWaiters() { Close(); }

bool TaskWaiters::Drain(absl::Time deadline) {
  for (;;) {
    void* tag;
    bool ok;
    const auto r = cq_.AsyncNext(&tag, &ok, absl::ToChronoTime(deadline));
    if (r == grpc::CompletionQueue::SHUTDOWN) return false;
    if (r == grpc::CompletionQueue::TIMEOUT) return true;
    Call& call = calls_[reinterpret_cast<uintptr_t>(tag)];
    call.done = true;
    ++finished_;
    if (!closed_ && first_error_.empty()) {
      first_error_ = call.status.ok()
                         ? absl::StrCat("answered, exit status ", call.resp.exit_status())
                         : absl::StrCat("code ", call.status.error_code(), ": ",
                                        call.status.error_message());
    }
  }
}

absl::Status TaskWaiters::CheckPending() {
  if (!closed_) Drain(absl::Now());
  if (finished_ == 0) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(finished_, " of ", n_,
                                          " Tasks.Wait calls ended early; first: ", first_error_));
}

void TaskWaiters::Close() {
  if (closed_) return;
  Drain(absl::Now());
  closed_ = true;
  for (auto& call : calls_) {
    if (call.ctx && !call.done) call.ctx->TryCancel();
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (finished_ < issued_ && absl::Now() < deadline) {
    if (!Drain(std::min(deadline, absl::Now() + absl::Milliseconds(100)))) break;
  }
  cq_.Shutdown();
  void* tag;
  bool ok;
  while (cq_.Next(&tag, &ok)) {
  }
}

}  // namespace zlayer::bench
