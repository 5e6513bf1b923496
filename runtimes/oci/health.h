// Health checks for running containers, as Docker runs a HEALTHCHECK: a command
// run inside the container, or a TCP connect / HTTP GET inside its network
// namespace, every `interval`, each bounded by `timeout`. Failures during
// `start_grace` do not count; `retries` consecutive failures make it unhealthy, one
// success makes it healthy again.
//
// Checks run on a small pool of their own so that a slow check never delays the
// agent's other work; timing comes from one scheduler thread.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "base/scheduler.h"
#include "base/work_queue.h"
#include "core/service_spec.h"
#include "core/types.h"

namespace zlayer::oci {

// What one probe found.
struct HealthProbeResult {
  bool healthy = false;
  std::string output;  // command output or the reason it failed
};

class HealthChecker {
 public:
  // Runs one probe of `spec` (blocking, bounded by spec.timeout).
  using ProbeFn = std::function<HealthProbeResult(const core::HealthSpec& spec)>;
  using ChangeFn = std::function<void(const core::HealthDetail& detail)>;

  HealthChecker();
  ~HealthChecker();

  // Starts checking `name`; replaces an earlier registration of the same name.
  void Start(const std::string& name, const core::HealthSpec& spec, ProbeFn probe,
             ChangeFn on_change);
  // Stops checking; a probe in flight finishes but its result is dropped.
  void Stop(const std::string& name);
  // The current detail; nullopt when `name` is not checked.
  std::optional<core::HealthDetail> Get(const std::string& name) const;

 private:
  struct Entry;
  void Schedule(const std::shared_ptr<Entry>& entry, absl::Duration after);
  void RunProbe(const std::shared_ptr<Entry>& entry);

  base::WorkQueue pool_;
  base::Scheduler scheduler_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Entry>> entries_ ABSL_GUARDED_BY(mu_);
};

// Probe command lines for the TCP and HTTP checks: `zlayer-monitor probe ...` enters
// the container's network namespace (a thread of the agent must never do that) and
// exits 0 when the check passes, printing what it found.
std::vector<std::string> ProbeCommand(const std::string& monitor_path, pid_t init_pid,
                                      const core::HealthSpec& spec);

// INVALID_ARGUMENT for a health spec this backend cannot run.
absl::Status ValidateHealth(const core::HealthSpec& spec);

}  // namespace zlayer::oci
