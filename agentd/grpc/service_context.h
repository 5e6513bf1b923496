// What every RPC handler needs: the backend's two interfaces, somewhere to run blocking work, a
// clock for periodic streams, and the registry that ends streams at shutdown.
#pragma once

#include <string>

#include "absl/time/time.h"
#include "agentd/grpc/stream_registry.h"
#include "base/scheduler.h"
#include "base/work_queue.h"
#include "core/container_runtime.h"
#include "core/image_service.h"
#include "events/event_journal.h"
#include "metrics/agent_metrics.h"

namespace zlayer::agentd {

struct ServiceContext {
  // The two halves of the contract; the backend keeps both alive while serving.
  core::ContainerRuntime* containers = nullptr;
  core::ImageService* images = nullptr;
  base::WorkQueue* queue = nullptr;
  base::Scheduler* scheduler = nullptr;
  StreamRegistry* streams = nullptr;
  // The node's event history (the Events RPC); outlives the server.
  events::EventJournal* events = nullptr;
  // Where ImportImage spools the uploaded archive.
  std::string spool_dir = "/tmp";
  absl::Time started_at;
  std::string version;
  // "v2", "hybrid", "v1": what the host offers, for GetAgentInfo.
  std::string cgroup_mode;
  // Set when metrics.address is: pulls are counted, and GetAgentInfo names the
  // listener's bound address.
  metrics::PullMetrics* pulls = nullptr;
  std::string metrics_address;
};

}  // namespace zlayer::agentd
