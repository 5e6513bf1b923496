#include "runtimes/oci/health.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "core/errors.h"

namespace zlayer::oci {

struct HealthChecker::Entry {
  std::string name;
  core::HealthSpec spec;
  ProbeFn probe;
  ChangeFn on_change;
  absl::Time started;
  // Guarded by HealthChecker::mu_.
  core::HealthDetail detail;
  bool stopped = false;
  base::Scheduler::TaskId timer = 0;
};

namespace {

absl::Duration OrDefault(absl::Duration d, absl::Duration fallback) {
  return d > absl::ZeroDuration() ? d : fallback;
}

}  // namespace

HealthChecker::HealthChecker() : pool_("oci-health", 2), scheduler_("oci-health-tm") {}

HealthChecker::~HealthChecker() {
  {
    absl::MutexLock lock(&mu_);
    for (auto& [name, e] : entries_) e->stopped = true;
  }
  pool_.Shutdown();
}

void HealthChecker::Start(const std::string& name, const core::HealthSpec& spec, ProbeFn probe,
                          ChangeFn on_change) {
  Stop(name);
  auto e = std::make_shared<Entry>();
  e->name = name;
  e->spec = spec;
  e->probe = std::move(probe);
  e->on_change = std::move(on_change);
  e->started = absl::Now();
  e->detail.status = "starting";
  e->detail.failing_streak = 0;
  {
    absl::MutexLock lock(&mu_);
    entries_[name] = e;
  }
  // The first probe comes one interval in, as Docker does.
  Schedule(e, OrDefault(spec.interval, absl::Seconds(30)));
}

void HealthChecker::Stop(const std::string& name) {
  std::shared_ptr<Entry> e;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(name);
    if (it == entries_.end()) return;
    e = it->second;
    e->stopped = true;
    entries_.erase(it);
  }
  if (e->timer) scheduler_.Cancel(e->timer);
}

std::optional<core::HealthDetail> HealthChecker::Get(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) return std::nullopt;
  return it->second->detail;
}

void HealthChecker::Schedule(const std::shared_ptr<Entry>& e, absl::Duration after) {
  std::weak_ptr<Entry> weak = e;
  const auto id = scheduler_.RunAfter(after, [this, weak] {
    auto entry = weak.lock();
    if (!entry) return;
    if (!pool_.Post([this, entry] { RunProbe(entry); })) return;
  });
  absl::MutexLock lock(&mu_);
  e->timer = id;
}

void HealthChecker::RunProbe(const std::shared_ptr<Entry>& e) {
  {
    absl::MutexLock lock(&mu_);
    if (e->stopped) return;
  }
  HealthProbeResult result = e->probe(e->spec);
  std::optional<core::HealthDetail> changed;
  {
    absl::MutexLock lock(&mu_);
    if (e->stopped) return;
    auto& d = e->detail;
    const std::string before = d.status;
    const bool in_grace = absl::Now() - e->started < e->spec.start_grace;
    const uint32_t retries = e->spec.retries ? e->spec.retries : 3;
    if (result.healthy) {
      d.status = "healthy";
      d.failing_streak = 0;
    } else {
      d.last_output = result.output.substr(0, 4096);
      if (!in_grace) {
        d.failing_streak = d.failing_streak.value_or(0) + 1;
        if (*d.failing_streak >= retries) d.status = "unhealthy";
      }
    }
    if (result.healthy && !result.output.empty()) d.last_output = result.output.substr(0, 4096);
    if (d.status != before) changed = d;
  }
  if (changed) {
    base::Logger("oci")->info("health changed container_id={} status={} failing_streak={}",
                              e->name, changed->status, changed->failing_streak.value_or(0));
    if (e->on_change) e->on_change(*changed);
  }
  Schedule(e, OrDefault(e->spec.interval, absl::Seconds(30)));
}

std::vector<std::string> ProbeCommand(const std::string& monitor_path, pid_t init_pid,
                                      const core::HealthSpec& spec) {
  const std::string timeout_ms =
      std::to_string(absl::ToInt64Milliseconds(OrDefault(spec.timeout, absl::Seconds(30))));
  if (spec.check == core::HealthSpec::Check::kTcp) {
    return {monitor_path, "probe", "tcp", std::to_string(init_pid), std::to_string(spec.tcp_port),
            timeout_ms};
  }
  return {monitor_path, "probe", "http", std::to_string(init_pid), spec.http_url,
          std::to_string(spec.http_expect_status), timeout_ms};
}

absl::Status ValidateHealth(const core::HealthSpec& spec) {
  using Check = core::HealthSpec::Check;
  if (spec.interval < absl::ZeroDuration() || spec.timeout < absl::ZeroDuration() ||
      spec.start_grace < absl::ZeroDuration()) {
    return core::InvalidSpec("spec.health: durations must not be negative");
  }
  if (spec.interval > absl::ZeroDuration() && spec.interval < absl::Milliseconds(100)) {
    return core::InvalidSpec("spec.health.interval must be at least 100ms");
  }
  switch (spec.check) {
    case Check::kNone: return absl::OkStatus();
    case Check::kCommand:
      if (spec.command.empty()) return core::InvalidSpec("spec.health.command must not be empty");
      return absl::OkStatus();
    case Check::kTcp:
      if (spec.tcp_port == 0 || spec.tcp_port > 65535) {
        return core::InvalidSpec("spec.health.tcp.port must be 1-65535");
      }
      return absl::OkStatus();
    case Check::kHttp:
      if (!absl::StartsWith(spec.http_url, "http://")) {
        return core::InvalidSpec(absl::StrCat(
            "spec.health.http.url '", spec.http_url,
            "' must be an http:// URL (checks run inside the container's network, without TLS)"));
      }
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

}  // namespace zlayer::oci
