#include "agentd/metrics_endpoint.h"

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/logging.h"
#include "metrics/container_metrics.h"
#include "metrics/process_metrics.h"

namespace zlayer::agentd {
namespace {

// The exposition format's media type, which Prometheus asks for in Accept.
constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";

uint64_t FileSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

void WriteAgentMetrics(const MetricsSources& sources, metrics::TextWriter& out) {
  const ServiceContext& ctx = *sources.context;
  out.Family("zlayer_agent_info", "gauge", "Always 1; the labels describe the agent.");
  const std::string runtime = ctx.containers ? ctx.containers->RuntimeDescription() : "";
  const std::string backend = ctx.containers ? ctx.containers->BackendName() : "";
  out.Sample("zlayer_agent_info",
             {{"version", ctx.version},
              {"backend", backend},
              {"runtime", runtime},
              {"cgroup_mode", ctx.cgroup_mode}},
             1.0);
  out.Single("zlayer_agent_start_time_seconds", "gauge",
             "When the agent started serving, since the Unix epoch, in seconds.",
             static_cast<double>(absl::ToUnixMicros(ctx.started_at)) / 1e6);
  if (ctx.queue) {
    const auto progress = ctx.queue->GetProgress();
    out.Single("zlayer_work_queue_pending", "gauge",
               "Tasks waiting for a work thread (blocking backend calls).",
               static_cast<double>(progress.pending));
    out.Single("zlayer_work_queue_running", "gauge", "Tasks running on the work threads now.",
               static_cast<double>(progress.running));
  }
  if (ctx.streams) {
    out.Single("zlayer_open_streams", "gauge",
               "Server streams open now (logs, waits, events, stats, exec, pulls).",
               static_cast<double>(ctx.streams->size()));
  }
  if (ctx.events) {
    const uint64_t last = ctx.events->LastSequence();
    const uint64_t oldest = ctx.events->OldestSequence();
    out.Single("zlayer_events_journal_events", "gauge", "Events kept in the journal.",
               static_cast<double>(last + 1 - oldest));
    out.Single("zlayer_events_total", "counter",
               "Events journaled since the journal was made (the newest sequence number).",
               static_cast<double>(last));
    if (!sources.journal_path.empty()) {
      out.Single("zlayer_events_journal_bytes", "gauge",
                 "Size of the journal's files (database and write-ahead log).",
                 static_cast<double>(FileSize(sources.journal_path) +
                                     FileSize(sources.journal_path + "-wal")));
    }
  }
}

}  // namespace

std::string RenderMetrics(const MetricsSources& sources) {
  const absl::Time start = absl::Now();
  metrics::TextWriter out;
  metrics::WriteProcessMetrics(out);
  WriteAgentMetrics(sources, out);
  if (sources.rpcs) sources.rpcs->Write(out);
  if (sources.pulls) sources.pulls->Write(out);
  bool containers_ok = true;
  if (sources.context->containers) {
    const absl::Status s = metrics::WriteContainerMetrics(*sources.context->containers, out);
    if (!s.ok()) {
      containers_ok = false;
      static auto log = base::Logger("metrics");
      log->warn("scrape: container metrics left out error={}", s.message());
    }
  }
  // A scrape that lost the container families says so instead of looking empty.
  out.Single("zlayer_scrape_containers_ok", "gauge",
             "1 when this scrape's container families are complete.", containers_ok ? 1.0 : 0.0);
  out.Single("zlayer_scrape_duration_seconds", "gauge", "Time this scrape took to assemble.",
             absl::ToDoubleSeconds(absl::Now() - start));
  return out.Take();
}

absl::StatusOr<std::unique_ptr<metrics::HttpEndpoint>> StartMetricsEndpoint(
    const std::string& address, const MetricsSources* sources) {
  return metrics::HttpEndpoint::Start(address, [sources](absl::string_view path) {
    metrics::HttpResponse response;
    if (path == "/metrics") {
      response.content_type = kContentType;
      response.body = RenderMetrics(*sources);
    } else {
      response.status = 404;
      response.body = absl::StrCat("no ", path, " here; metrics are at /metrics\n");
    }
    return response;
  });
}

}  // namespace zlayer::agentd
