#include "metrics/container_metrics.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace zlayer::metrics {
namespace {

using core::ContainerRecord;
using core::ContainerState;
using core::ContainerStats;

// The labels of one container: cAdvisor's id/name/image plus ours.
struct ContainerLabels {
  std::string id, service, replica, deployment, image;
  Labels Get() const {
    return {{"id", id},
            {"name", id},
            {"service", service},
            {"replica", replica},
            {"deployment", deployment},
            {"image", image}};
  }
};

// One family over every container that has the value; a family with no value at
// all on this host (v1 has no PSI, for one) is left out rather than shown empty.
template <typename Get>
void Family(TextWriter& out, const std::vector<std::pair<const ContainerStats*, Labels>>& rows,
            absl::string_view name, absl::string_view type, absl::string_view help, Get get) {
  bool started = false;
  for (const auto& [stats, labels] : rows) {
    const std::optional<double> value = get(stats->cgroup);
    if (!value) continue;
    if (!started) out.Family(name, type, help);
    started = true;
    out.Sample(name, labels, *value);
  }
}

std::optional<double> Opt(const std::optional<uint64_t>& v, double scale = 1) {
  if (!v) return std::nullopt;
  return static_cast<double>(*v) * scale;
}

std::optional<double> PressureTotal(const std::optional<core::Pressure>& p, bool full) {
  if (!p) return std::nullopt;
  const auto& line = full ? p->full : p->some;
  if (!line) return std::nullopt;
  return static_cast<double>(line->total_usec) / 1e6;
}

void WriteIo(TextWriter& out, const std::vector<std::pair<const ContainerStats*, Labels>>& rows) {
  struct IoFamily {
    const char* name;
    const char* help;
    uint64_t core::IoDeviceStats::*field;
  };
  static constexpr IoFamily kFamilies[] = {
      {"container_fs_reads_bytes_total", "Bytes read from block devices.",
       &core::IoDeviceStats::rbytes},
      {"container_fs_writes_bytes_total", "Bytes written to block devices.",
       &core::IoDeviceStats::wbytes},
      {"container_fs_reads_total", "Reads completed on block devices.", &core::IoDeviceStats::rios},
      {"container_fs_writes_total", "Writes completed on block devices.",
       &core::IoDeviceStats::wios},
  };
  for (const auto& family : kFamilies) {
    bool started = false;
    for (const auto& [stats, labels] : rows) {
      for (const auto& dev : stats->cgroup.io) {
        if (!started) out.Family(family.name, "counter", family.help);
        started = true;
        const std::string device = absl::StrCat(dev.major, ":", dev.minor);
        Labels with_device = labels;
        with_device.emplace_back("device", device);
        out.Sample(family.name, with_device, dev.*family.field);
      }
    }
  }
}

}  // namespace

absl::Status WriteContainerMetrics(core::ContainerRuntime& runtime, TextWriter& out) {
  auto records = runtime.ListContainers({});
  if (!records.ok()) return records.status();
  auto stats = runtime.ListContainerStats({});
  if (!stats.ok()) return stats.status();

  std::map<core::ContainerId, const ContainerRecord*> by_id;
  std::map<std::string, uint64_t> by_phase;
  for (auto phase : {ContainerState::Phase::kPending, ContainerState::Phase::kInitializing,
                     ContainerState::Phase::kRunning, ContainerState::Phase::kStopping,
                     ContainerState::Phase::kExited, ContainerState::Phase::kFailed}) {
    by_phase[core::PhaseName(phase)] = 0;
  }
  for (const auto& r : *records) {
    by_id[r.id] = &r;
    ++by_phase[core::PhaseName(r.state.phase)];
  }
  out.Family("zlayer_containers", "gauge", "Containers the agent knows, by phase.");
  for (const auto& [phase, n] : by_phase) out.Sample("zlayer_containers", {{"phase", phase}}, n);
  if (auto monitors = runtime.MonitorCount()) {
    out.Single("zlayer_monitors", "gauge", "Monitor processes supervising containers now.",
               static_cast<double>(*monitors));
  }

  // Label values outlive the rows that point at them.
  std::vector<ContainerLabels> label_store;
  label_store.reserve(stats->size());
  for (const auto& s : *stats) {
    ContainerLabels l;
    l.id = s.id.ToString();
    l.service = s.id.service;
    l.replica = absl::StrCat(s.id.replica);
    if (auto it = by_id.find(s.id); it != by_id.end()) {
      l.deployment = it->second->deployment;
      l.image = it->second->image;
    }
    label_store.push_back(std::move(l));
  }
  std::vector<std::pair<const ContainerStats*, Labels>> rows;
  rows.reserve(stats->size());
  for (size_t i = 0; i < stats->size(); ++i) rows.emplace_back(&(*stats)[i], label_store[i].Get());

  using C = core::CgroupStats;
  Family(out, rows, "container_cpu_usage_seconds_total", "counter",
         "Cumulative CPU time consumed, in seconds.",
         [](const C& c) { return std::optional<double>(c.cpu_usage_usec / 1e6); });
  Family(out, rows, "container_cpu_user_seconds_total", "counter",
         "Cumulative user CPU time consumed, in seconds.",
         [](const C& c) { return Opt(c.cpu_user_usec, 1e-6); });
  Family(out, rows, "container_cpu_system_seconds_total", "counter",
         "Cumulative system CPU time consumed, in seconds.",
         [](const C& c) { return Opt(c.cpu_system_usec, 1e-6); });
  Family(out, rows, "container_cpu_cfs_periods_total", "counter",
         "Elapsed enforcement periods of the CPU quota.",
         [](const C& c) { return Opt(c.cpu_nr_periods); });
  Family(out, rows, "container_cpu_cfs_throttled_periods_total", "counter",
         "Enforcement periods in which the container was throttled.",
         [](const C& c) { return Opt(c.cpu_nr_throttled); });
  Family(out, rows, "container_cpu_cfs_throttled_seconds_total", "counter",
         "Time the container was throttled, in seconds.",
         [](const C& c) { return Opt(c.cpu_throttled_usec, 1e-6); });
  Family(out, rows, "container_memory_usage_bytes", "gauge",
         "Memory charged to the container, page cache included.",
         [](const C& c) { return std::optional<double>(static_cast<double>(c.memory_bytes)); });
  Family(out, rows, "container_memory_working_set_bytes", "gauge",
         "Memory usage minus inactive page cache: what the OOM killer weighs.", [](const C& c) {
           const uint64_t inactive = c.memory_inactive_file.value_or(0);
           return std::optional<double>(
               static_cast<double>(c.memory_bytes > inactive ? c.memory_bytes - inactive : 0));
         });
  Family(out, rows, "container_memory_rss", "gauge", "Anonymous memory (heap, stacks).",
         [](const C& c) { return Opt(c.memory_anon); });
  Family(out, rows, "container_memory_cache", "gauge", "Page cache memory.",
         [](const C& c) { return Opt(c.memory_file); });
  Family(out, rows, "container_memory_kernel_usage", "gauge", "Kernel memory charged.",
         [](const C& c) { return Opt(c.memory_kernel); });
  Family(out, rows, "container_memory_shmem", "gauge", "Shared memory (tmpfs, shm).",
         [](const C& c) { return Opt(c.memory_shmem); });
  Family(out, rows, "container_spec_memory_limit_bytes", "gauge", "Memory limit; 0 when unlimited.",
         [](const C& c) { return std::optional<double>(static_cast<double>(c.memory_limit)); });
  Family(out, rows, "container_oom_events_total", "counter",
         "Times the container's processes were killed by the OOM killer.", [](const C& c) {
           return Opt(c.memory_oom_kill ? c.memory_oom_kill : c.memory_oom_events);
         });
  Family(out, rows, "container_processes", "gauge", "Processes and threads in the container.",
         [](const C& c) { return Opt(c.pids_current); });
  Family(out, rows, "container_spec_processes_limit", "gauge",
         "Limit on processes and threads; 0 when unlimited.",
         [](const C& c) { return Opt(c.pids_max); });
  Family(out, rows, "container_pressure_cpu_waiting_seconds_total", "counter",
         "Time some task waited for CPU (PSI some).",
         [](const C& c) { return PressureTotal(c.cpu_pressure, false); });
  Family(out, rows, "container_pressure_cpu_stalled_seconds_total", "counter",
         "Time all tasks were stalled on CPU (PSI full).",
         [](const C& c) { return PressureTotal(c.cpu_pressure, true); });
  Family(out, rows, "container_pressure_memory_waiting_seconds_total", "counter",
         "Time some task waited for memory (PSI some).",
         [](const C& c) { return PressureTotal(c.memory_pressure, false); });
  Family(out, rows, "container_pressure_memory_stalled_seconds_total", "counter",
         "Time all tasks were stalled on memory (PSI full).",
         [](const C& c) { return PressureTotal(c.memory_pressure, true); });
  Family(out, rows, "container_pressure_io_waiting_seconds_total", "counter",
         "Time some task waited for I/O (PSI some).",
         [](const C& c) { return PressureTotal(c.io_pressure, false); });
  Family(out, rows, "container_pressure_io_stalled_seconds_total", "counter",
         "Time all tasks were stalled on I/O (PSI full).",
         [](const C& c) { return PressureTotal(c.io_pressure, true); });
  WriteIo(out, rows);

  // Start times of every container that has one, running or not, as cAdvisor does.
  bool started = false;
  for (const auto& r : *records) {
    if (!r.started_at) continue;
    if (!started) {
      out.Family("container_start_time_seconds", "gauge",
                 "Start time of the container since the Unix epoch, in seconds.");
    }
    started = true;
    ContainerLabels l{r.id.ToString(), r.id.service, absl::StrCat(r.id.replica), r.deployment,
                      r.image};
    out.Sample("container_start_time_seconds", l.Get(),
               static_cast<double>(absl::ToUnixMicros(*r.started_at)) / 1e6);
  }
  return absl::OkStatus();
}

}  // namespace zlayer::metrics
