#include "agentd/grpc/metrics_interceptor.h"

#include "absl/time/clock.h"

namespace zlayer::agentd {
namespace {

using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::ServerRpcInfo;

const char* TypeName(ServerRpcInfo::Type type) {
  switch (type) {
    case ServerRpcInfo::Type::UNARY:
      return "unary";
    case ServerRpcInfo::Type::CLIENT_STREAMING:
      return "client_stream";
    case ServerRpcInfo::Type::SERVER_STREAMING:
      return "server_stream";
    case ServerRpcInfo::Type::BIDI_STREAMING:
      return "bidi_stream";
  }
  return "unknown";
}

// go-grpc-prometheus labels codes with Go's names (codes.Code.String()); dashboards
// built on it filter on these, so we print the same.
const char* CodeName(grpc::StatusCode code) {
  static constexpr const char* kNames[] = {
      "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
      "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
      "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
      "DataLoss", "Unauthenticated"};
  const int index = static_cast<int>(code);
  return index >= 0 && index < 17 ? kNames[index] : "Unknown";
}

class MetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(ServerRpcInfo* info, metrics::RpcMetrics* rpcs)
      : rpcs_(rpcs), method_(info->method()), type_(TypeName(info->type())), start_(absl::Now()) {
    rpcs_->Started(method_, type_);
  }
  // A call that ends without sending a status (the client went away first) is
  // counted as cancelled, so that started minus handled is what is still open.
  ~MetricsInterceptor() override {
    if (!handled_) rpcs_->Handled(method_, type_, "Canceled", Seconds());
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS) && !handled_) {
      handled_ = true;
      rpcs_->Handled(method_, type_, CodeName(methods->GetSendStatus().error_code()), Seconds());
    }
    methods->Proceed();
  }

 private:
  double Seconds() const { return absl::ToDoubleSeconds(absl::Now() - start_); }

  metrics::RpcMetrics* rpcs_;
  const char* method_;  // gRPC's, alive for the call
  const char* type_;
  const absl::Time start_;
  bool handled_ = false;
};

class Factory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit Factory(metrics::RpcMetrics* rpcs) : rpcs_(rpcs) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(ServerRpcInfo* info) override {
    return new MetricsInterceptor(info, rpcs_);
  }

 private:
  metrics::RpcMetrics* rpcs_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MetricsInterceptorFactory(
    metrics::RpcMetrics* rpcs) {
  return std::make_unique<Factory>(rpcs);
}

}  // namespace zlayer::agentd
