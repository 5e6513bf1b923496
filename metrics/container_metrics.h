// The per-container families under cAdvisor's names and labels, so that dashboards
// written for the kubelet's /metrics/cadvisor chart this agent's containers as they
// are, and the agent's own view of its containers (by phase, monitors).
//
// The values come from the backend's ListContainerStats, the same cached cgroup
// readers ListStats serves from: a scrape opens no cgroup directory of its own.
#pragma once

#include "absl/status/status.h"
#include "core/container_runtime.h"
#include "metrics/exposition.h"

namespace zlayer::metrics {

// Blocks on the backend (call it off any event loop).
absl::Status WriteContainerMetrics(core::ContainerRuntime& runtime, TextWriter& out);

}  // namespace zlayer::metrics
