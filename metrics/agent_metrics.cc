#include "metrics/agent_metrics.h"

namespace zlayer::metrics {

RpcMetrics::Method& RpcMetrics::Find(absl::string_view full_method, absl::string_view type) {
  auto it = methods_.find(full_method);
  if (it != methods_.end()) return it->second;
  Method m;
  // "/zlayer.agent.v1.RuntimeService/ListContainers" -> service, method.
  absl::string_view rest = full_method;
  if (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  const auto slash = rest.find('/');
  m.service = std::string(slash == absl::string_view::npos ? rest : rest.substr(0, slash));
  m.method = std::string(slash == absl::string_view::npos ? "" : rest.substr(slash + 1));
  m.type = std::string(type);
  return methods_.emplace(std::string(full_method), std::move(m)).first->second;
}

void RpcMetrics::Started(absl::string_view full_method, absl::string_view type) {
  absl::MutexLock lock(&mu_);
  ++Find(full_method, type).started;
}

void RpcMetrics::Handled(absl::string_view full_method, absl::string_view type,
                         absl::string_view code, double seconds) {
  absl::MutexLock lock(&mu_);
  Method& m = Find(full_method, type);
  ++m.handled[std::string(code)];
  m.seconds.Observe(seconds);
}

void RpcMetrics::Write(TextWriter& out) const {
  absl::MutexLock lock(&mu_);
  auto labels = [](const Method& m) {
    return Labels{{"grpc_type", m.type}, {"grpc_service", m.service}, {"grpc_method", m.method}};
  };
  out.Family("grpc_server_started_total", "counter", "RPCs started on the server.");
  for (const auto& [name, m] : methods_)
    out.Sample("grpc_server_started_total", labels(m), m.started);
  out.Family("grpc_server_handled_total", "counter",
             "RPCs completed on the server, by status code.");
  for (const auto& [name, m] : methods_) {
    for (const auto& [code, n] : m.handled) {
      Labels l = labels(m);
      l.emplace_back("grpc_code", code);
      out.Sample("grpc_server_handled_total", l, n);
    }
  }
  out.Family("grpc_server_handling_seconds", "histogram",
             "Time from an RPC's start to its status (a stream's whole life).");
  for (const auto& [name, m] : methods_)
    m.seconds.Write(out, "grpc_server_handling_seconds", labels(m));
  out.Family("zlayer_grpc_open_streams", "gauge", "Streaming RPCs open now.");
  for (const auto& [name, m] : methods_) {
    if (m.type == "unary") continue;
    uint64_t done = 0;
    for (const auto& [code, n] : m.handled) done += n;
    out.Sample("zlayer_grpc_open_streams", labels(m), m.started - done);
  }
}

void PullMetrics::Finished(bool ok, uint64_t downloaded, double seconds) {
  absl::MutexLock lock(&mu_);
  ++(ok ? succeeded_ : failed_);
  bytes_ += downloaded;
  seconds_.Observe(seconds);
}

void PullMetrics::Write(TextWriter& out) const {
  absl::MutexLock lock(&mu_);
  out.Family("zlayer_image_pulls_total", "counter", "Image pulls finished, by result.");
  out.Sample("zlayer_image_pulls_total", {{"result", "ok"}}, succeeded_);
  out.Sample("zlayer_image_pulls_total", {{"result", "error"}}, failed_);
  out.Single("zlayer_image_pull_bytes_total", "counter", "Layer bytes downloaded from registries.",
             static_cast<double>(bytes_));
  out.Family("zlayer_image_pull_duration_seconds", "histogram", "Time an image pull took.");
  seconds_.Write(out, "zlayer_image_pull_duration_seconds", {});
}

}  // namespace zlayer::metrics
