// The containerd contenders' client: containerd's own gRPC Tasks API (the
// subset in bench/containerd/containerd_api.proto, containerd 1.6's wire
// format) on the private containerd BenchEnv starts. Every call carries the
// namespace in the `containerd-namespace` metadata and has a deadline.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "containerd/containerd_api.grpc.pb.h"

namespace zlayer::bench {

namespace cdpb = ::containerd::services::tasks::v1;

class ContainerdClient {
 public:
  // A connection of its own (bench/harness/agent_client.h NewChannel).
  ContainerdClient(const std::string& socket_path, std::string ns, int channel_tag = 0);

  // A context with the namespace and a deadline.
  std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout) const;

  // Tasks.Metrics; no filters: every task in the namespace.
  absl::Status Metrics(const std::vector<std::string>& filters, cdpb::MetricsResponse* resp,
                       absl::Duration timeout = absl::Seconds(30));
  // Tasks.Get of a container's init process.
  absl::StatusOr<cdpb::GetResponse> GetTask(const std::string& container_id,
                                            absl::Duration timeout = absl::Seconds(10));

  cdpb::Tasks::Stub& stub() { return *stub_; }
  const std::string& ns() const { return ns_; }

 private:
  std::string ns_;
  std::unique_ptr<cdpb::Tasks::Stub> stub_;
};

// Whether a Tasks.Get answer is about the init process of `container_id`.
bool IsTask(const ::containerd::v1::types::Process& p, const std::string& container_id);

// OK if `resp` holds exactly one metric, with data, for each of `ids` and no other.
absl::Status CheckMetrics(const cdpb::MetricsResponse& resp, const std::vector<std::string>& ids);

// N concurrent Tasks.Wait calls on one task, on the async client API: every call
// completes on one completion queue that only the caller's thread drains, so the
// bench holds no thread per call. Tasks.Wait is unary (its answer is the exit),
// so "open" cannot be seen in a first message as with the agent's Wait stream:
// the calls are spread over connections of kCallsPerChannel, each connected
// before its calls are issued, and after them a Tasks.Get on the same connection
// must succeed (containerd's server reads a connection's streams in order, so it
// has taken every Wait before it), then none of the calls may have ended.
class TaskWaiters {
 public:
  static constexpr int kCallsPerChannel = 250;

  static absl::StatusOr<std::unique_ptr<TaskWaiters>> Open(const std::string& socket_path,
                                                           const std::string& ns,
                                                           const std::string& container_id,
                                                           int n, absl::Duration timeout);
  ~TaskWaiters();

  // OK while every call is still pending (none ended, with an answer or an error).
  absl::Status CheckPending();
  // Cancels every call and drains the queue (bounded: 60 s).
  void Close();

 private:
  struct Call {
    std::unique_ptr<grpc::ClientContext> ctx;
    std::unique_ptr<grpc::ClientAsyncResponseReader<cdpb::WaitResponse>> rpc;
    cdpb::WaitResponse resp;
    grpc::Status status;
    bool done = false;
  };

  TaskWaiters() = default;
  // Takes the completions there are until `deadline`; false once shut down.
  bool Drain(absl::Time deadline);

  int n_ = 0;
  int issued_ = 0;
  std::vector<std::unique_ptr<ContainerdClient>> clients_;
  grpc::CompletionQueue cq_;
  std::vector<Call> calls_;
  int finished_ = 0;
  std::string first_error_;
  bool closed_ = false;
};

}  // namespace zlayer::bench
