// Populations of running containers (50, then 200, by default): memory of the
// agent and its per-container monitors against containerd and its
// per-container shims, and stats for the whole population: the agent's ListStats
// and GetStats against containerd's Tasks.Metrics for all tasks and for one, and
// one Prometheus scrape of the agent's /metrics, in wall time and in agent CPU.
#include <algorithm>
#include <functional>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/cases/cases.h"
#include "bench/harness/containerd_client.h"
#include "bench/harness/metrics_scraper.h"
#include "bench/harness/procinfo.h"
#include "cgroups/locate.h"
#include "cgroups/stats_reader.h"

namespace zlayer::bench {
namespace {

const std::vector<std::string> kSleeper = {"/bin/sleep", "1000000"};

absl::StatusOr<pid_t> MonitorPid(Stub& stub, const pb::ContainerId& id) {
  pb::InspectContainerRequest req;
  *req.mutable_id() = id;
  pb::ContainerInfo info;
  if (auto s = FromGrpc(stub.InspectContainer(Deadline(absl::Seconds(10)).get(), req, &info),
                        "InspectContainer");
      !s.ok()) {
    return s;
  }
  auto it = info.annotations().find("monitor_pid");
  pid_t pid = 0;
  if (it == info.annotations().end() || !absl::SimpleAtoi(it->second, &pid)) {
    return absl::NotFoundError("no monitor_pid annotation");
  }
  return pid;
}

struct Mem {
  std::vector<double> rss, pss;
  double rss_total = 0, pss_total = 0;
};

Mem MemOf(const std::vector<pid_t>& pids) {
  Mem m;
  for (pid_t p : pids) {
    auto r = ReadProcMem(p);
    if (!r.ok()) continue;
    m.rss.push_back(r->rss_mb);
    m.pss.push_back(r->pss_mb);
    m.rss_total += r->rss_mb;
    m.pss_total += r->pss_mb;
  }
  return m;
}

const std::vector<std::string> kNone;

// CPU time of one call: a clock read untimed just before it and just after it
// (Variant::before and after). Alternate() runs the warm-up rounds through the
// same hooks, so the first `warmup` deltas are dropped by Timed().
struct CpuProbe {
  std::function<absl::StatusOr<double>()> clock;
  double start = 0;
  std::vector<double> ms;

  std::function<absl::Status()> Before() {
    return [this]() -> absl::Status {
      auto c = clock();
      if (!c.ok()) return c.status();
      start = *c;
      return absl::OkStatus();
    };
  }
  absl::Status After() {
    auto c = clock();
    if (!c.ok()) return c.status();
    ms.push_back(*c - start);
    return absl::OkStatus();
  }
  std::vector<double> Timed(int warmup) const {
    return {ms.begin() + std::min<size_t>(static_cast<size_t>(warmup), ms.size()), ms.end()};
  }
};

// The agent's utime + stime (/proc/PID/stat, clock ticks) around `calls` calls
// back to back, per call: the coarse cross-check of the CPU clock's figures.
absl::StatusOr<double> ProcStatPerCall(pid_t pid, int calls,
                                       const std::function<absl::Status()>& call) {
  auto before = ProcStatCpuMs(pid);
  if (!before.ok()) return before.status();
  for (int i = 0; i < calls; ++i) {
    if (auto s = call(); !s.ok()) return s;
  }
  auto after = ProcStatCpuMs(pid);
  if (!after.ok()) return after.status();
  return (*after - *before) / calls;
}

// The agent's CPU per call of ListStats and of a /metrics scrape (its CPU clock
// around each, alternating with the other stats variants), the bench's own CPU
// for reading the same cgroup files, and the /proc/PID/stat cross-check.
void AgentCpuRows(Report& report, const std::string& sfx, int warmup, int rounds, pid_t agent,
                  const CpuProbe& list_cpu, const CpuProbe& scrape_cpu, const CpuProbe& files_cpu,
                  bool files, const std::function<absl::Status()>& list_stats,
                  MetricsScraper* scraper, const ScrapeFacts& facts) {
  const std::string list_row = "ListStats: agent CPU" + sfx;
  const std::string files_row = "cgroup files in-process: CPU" + sfx;
  Row& l = report.AddDistribution("stats", list_row, "ms", list_cpu.Timed(warmup));
  if (files) l.compare.push_back({files_row});
  if (auto per = ProcStatPerCall(agent, rounds, list_stats); per.ok()) {
    l.note = absl::StrFormat(
        "agent's CPU clock around each call; utime+stime over %d back to "
        "back: %.2f ms each",
        rounds, *per);
  }
  if (files) {
    report.AddDistribution("stats", files_row, "ms", files_cpu.Timed(warmup)).note =
        "this bench thread's CPU for the reads (StatsReader)";
  }
  if (!scraper) return;
  // What the agent burns meanwhile without being asked (its own timers).
  double idle_ms_per_s = -1;
  if (auto a = ProcessCpuMs(agent); a.ok()) {
    absl::SleepFor(absl::Seconds(1));
    if (auto b = ProcessCpuMs(agent); b.ok()) idle_ms_per_s = *b - *a;
  }
  Row& r = report.AddDistribution("stats", "/metrics scrape: agent CPU" + sfx, "ms",
                                  scrape_cpu.Timed(warmup));
  if (facts.cpu_containers >= 200) r.max_value = 50;
  r.compare.push_back({list_row});
  if (files) r.compare.push_back({files_row});
  auto per = ProcStatPerCall(agent, rounds, [&] { return scraper->Scrape(); });
  r.note = absl::StrFormat(
      "agent's CPU clock around each scrape; utime+stime over %d back to back: %s; agent idle "
      "%.2f ms CPU/s; no containerd row: its Prometheus listener is off in this bench",
      rounds, per.ok() ? absl::StrFormat("%.2f ms each", *per) : per.status().ToString(),
      idle_ms_per_s);
}

// Stats of a population of n: the agent's for all in one call and for one
// container at a time, the same cgroup files read in this process (the floor
// under the API) and, given `ctr_ids`, containerd's Tasks.Metrics for all of
// its tasks and for one, all alternating. Fails if any of them failed, or
// containerd's answer does not carry exactly the metrics asked for.
absl::Status StatsRows(BenchEnv& env, const CaseOptions& o, Report& report, int n,
                       const std::vector<pb::ContainerId>& agent_ids,
                       const std::vector<std::string>& ctr_ids) {
  const std::string sfx = absl::StrCat(", ", n, " running");
  std::vector<std::unique_ptr<cgroups::StatsReader>> readers;
  if (auto layout = cgroups::HostLayout::Detect(); layout.ok()) {
    for (const auto& id : agent_ids) {
      pb::GetContainerPidRequest req;
      *req.mutable_id() = id;
      pb::GetContainerPidResponse resp;
      if (!env.stub().GetContainerPid(Deadline(absl::Seconds(5)).get(), req, &resp).ok() ||
          !resp.has_pid()) {
        continue;
      }
      auto paths = cgroups::LocateByPid(*layout, static_cast<pid_t>(resp.pid()));
      if (!paths.ok()) continue;
      auto reader = cgroups::StatsReader::Open(*paths);
      if (reader.ok()) readers.push_back(std::move(*reader));
    }
  }
  size_t next = 0;
  const pid_t agent = env.agent_pid();
  CpuProbe list_cpu{[agent] { return ProcessCpuMs(agent); }};
  CpuProbe scrape_cpu{[agent] { return ProcessCpuMs(agent); }};
  CpuProbe files_cpu{[]() -> absl::StatusOr<double> { return ThreadCpuMs(); }};
  auto list_stats = [&]() -> absl::Status {
    pb::ListStatsRequest req;
    pb::ListStatsResponse resp;
    auto s =
        FromGrpc(env.stub().ListStats(Deadline(absl::Seconds(30)).get(), req, &resp), "ListStats");
    if (s.ok() && resp.stats_size() != n) {
      return absl::InternalError(absl::StrCat("ListStats returned ", resp.stats_size(), " of ", n));
    }
    return s;
  };
  std::vector<Variant> v;
  v.push_back({"ListStats" + sfx, list_cpu.Before(), list_stats, [&] { return list_cpu.After(); }});
  v.push_back({"GetStats, one of" + sfx, nullptr,
               [&]() -> absl::Status {
                 pb::GetStatsRequest req;
                 *req.mutable_id() = agent_ids[next++ % agent_ids.size()];
                 pb::ContainerStats resp;
                 return FromGrpc(env.stub().GetStats(Deadline(absl::Seconds(10)).get(), req, &resp),
                                 "GetStats");
               },
               nullptr});
  if (!readers.empty()) {
    v.push_back({"cgroup files in-process" + sfx, files_cpu.Before(),
                 [&]() -> absl::Status {
                   for (const auto& r : readers) {
                     if (auto s = r->Read(); !s.ok()) return s.status();
                   }
                   return absl::OkStatus();
                 },
                 [&] { return files_cpu.After(); }});
  }
  // One Prometheus scrape of the agent's /metrics over a kept-alive connection;
  // the answer is checked untimed: every running container's CPU sample, and
  // the container families complete.
  const std::string scrape = "/metrics scrape" + sfx;
  std::unique_ptr<MetricsScraper> scraper;
  ScrapeFacts facts;
  if (!env.metrics_address().empty()) {
    auto made = MetricsScraper::Create(env.metrics_address());
    if (!made.ok()) return made.status();
    scraper = std::move(*made);
    v.push_back({scrape, scrape_cpu.Before(), [&] { return scraper->Scrape(); },
                 [&]() -> absl::Status {
                   if (auto s = scrape_cpu.After(); !s.ok()) return s;
                   facts = ParseExposition(scraper->body());
                   if (!facts.containers_ok || facts.cpu_containers != static_cast<size_t>(n)) {
                     return absl::InternalError(absl::StrCat(
                         scraper->url(), ": ", facts.cpu_containers, " of ", n,
                         " containers' CPU samples, containers_ok ", facts.containers_ok));
                   }
                   return absl::OkStatus();
                 }});
  }
  // containerd's counterparts, over a connection of their own as the agent's
  // stub has one. The answers are checked after the timed call, untimed.
  const std::string cd_all = "containerd Tasks.Metrics all" + sfx;
  const std::string cd_one = "containerd Tasks.Metrics one of" + sfx;
  std::optional<ContainerdClient> cd;
  cdpb::MetricsResponse all, one;
  std::string one_id;
  size_t next_ctr = 0;
  if (!ctr_ids.empty()) {
    cd.emplace(env.containerd_socket(), env.ctr_namespace(), 3000);
    v.push_back({cd_all, nullptr,
                 [&]() -> absl::Status {
                   cdpb::MetricsResponse resp;
                   auto s = cd->Metrics({}, &resp);
                   all = std::move(resp);
                   return s;
                 },
                 [&]() { return CheckMetrics(all, ctr_ids); }});
    v.push_back({cd_one, nullptr,
                 [&]() -> absl::Status {
                   one_id = ctr_ids[next_ctr++ % ctr_ids.size()];
                   cdpb::MetricsResponse resp;
                   auto s = cd->Metrics({"id==" + one_id}, &resp);
                   one = std::move(resp);
                   return s;
                 },
                 [&]() { return CheckMetrics(one, {one_id}); }});
  }
  const int rounds = std::max(o.iterations, 20);
  const auto samples = Alternate(v, o.warmup, rounds);
  report.AddSamples("stats", samples);
  const bool all_ok = std::all_of(samples.begin(), samples.end(),
                                  [](const VariantSamples& s) { return s.error.ok(); });
  if (all_ok) {
    AgentCpuRows(report, sfx, o.warmup, rounds, agent, list_cpu, scrape_cpu, files_cpu,
                 !readers.empty(), list_stats, scraper.get(), facts);
  }
  if (Row* r = report.Find("stats", "ListStats" + sfx)) {
    if (n >= 200) r->max_value = 50;
    if (!readers.empty()) r->compare.push_back({"cgroup files in-process" + sfx});
    if (cd) r->compare.push_back({cd_all});
  }
  if (Row* r = report.Find("stats", scrape); r && scraper) {
    r->compare.push_back({"ListStats" + sfx});
    r->note = absl::StrFormat(
        "client wall time, libcurl keeping the connection alive (%ld opened for %ld scrapes); "
        "%.0f KB, %zu samples",
        scraper->connections(), scraper->scrapes(), facts.bytes / 1024.0, facts.samples);
  }
  if (Row* r = report.Find("stats", "GetStats, one of" + sfx); r && cd) {
    r->compare.push_back({cd_one});
  }
  if (Row* r = report.Find("stats", cd_all); r && all.metrics_size() > 0) {
    r->note =
        absl::StrFormat("no filter, %d metrics of %s; containerd asks each task's shim over ttrpc",
                        all.metrics_size(), all.metrics(0).data().type_url());
  }
  if (Row* r = report.Find("stats", cd_one)) {
    r->note = "filter id==<container id>, rotating over the population";
  }
  for (const auto& s : samples) {
    if (!s.error.ok()) {
      return absl::Status(s.error.code(), absl::StrCat(s.name, ": ", s.error.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status PopulationCase(BenchEnv& env, const CaseOptions& o, Report& report) {
  const bool ctrd = env.has_containerd();
  // Idle: nothing running, the image present (the agent's store is open).
  absl::SleepFor(absl::Seconds(1));
  auto agent_idle = ReadProcMem(env.agent_pid());
  if (!agent_idle.ok()) return agent_idle.status();
  // No PSS or USS here: this bench process maps the same gRPC and protobuf
  // libraries, so it would take a share of the agent's pages that a lone agent
  // on a host does not have. The anonymous part is the agent's own allocations.
  Row& ai = report.AddValue("memory", "agentd idle RSS", "MB", agent_idle->rss_mb);
  ai.max_value = 15;
  ai.note = absl::StrFormat("%.1f MB anonymous (heap, stacks), %.1f MB file-backed (code)",
                            agent_idle->anon_mb, agent_idle->file_mb);
  if (ctrd) {
    if (auto c = ReadProcMem(env.containerd_pid()); c.ok()) {
      ai.compare.push_back({"containerd idle RSS"});
      report.AddValue("memory", "containerd idle RSS", "MB", c->rss_mb).note =
          absl::StrFormat("%.1f MB anonymous, %.1f MB file-backed", c->anon_mb, c->file_mb);
    }
  }
  report.AddValue("memory", "agentd idle threads", "threads", agent_idle->threads);

  std::vector<pb::ContainerId> agent_ids;
  std::vector<pid_t> monitors;
  std::vector<std::string> ctr_ids;
  auto teardown = [&] {
    for (const auto& id : agent_ids) (void)Remove(env.stub(), id, true);
    for (const auto& c : ctr_ids) {
      (void)env.Ctr({"task", "rm", "-f", c});
      (void)env.Ctr({"container", "rm", c});
    }
  };
  absl::Status status;
  std::vector<int> pops = o.populations;
  std::sort(pops.begin(), pops.end());
  for (int n : pops) {
    if (Interrupted()) break;
    const double t0 = NowMs();
    while (static_cast<int>(agent_ids.size()) < n) {
      const auto id = Id("pop", static_cast<uint32_t>(agent_ids.size()));
      if (status = Create(env.stub(), id, Spec(env.image(), kSleeper)); !status.ok()) break;
      agent_ids.push_back(id);
      if (status = Start(env.stub(), id); !status.ok()) break;
      auto m = MonitorPid(env.stub(), id);
      if (!m.ok()) {
        status = m.status();
        break;
      }
      monitors.push_back(*m);
    }
    if (!status.ok()) break;
    const double agent_start_s = (NowMs() - t0) / 1000;
    absl::SleepFor(absl::Seconds(1));
    const std::string sfx = absl::StrCat(", ", n, " running");
    auto agent = ReadProcMem(env.agent_pid());
    const Mem mon = MemOf(monitors);
    if (agent.ok()) {
      Row& r = report.AddValue("memory", "agentd RSS" + sfx, "MB", agent->rss_mb);
      if (ctrd) r.compare.push_back({"containerd RSS" + sfx});
      report.AddValue("memory", "agentd threads" + sfx, "threads", agent->threads);
    }
    Row& mr = report.AddDistribution("memory", "monitor RSS" + sfx, "MB", mon.rss);
    if (!monitors.empty()) {
      if (auto m = ReadProcMem(monitors.front()); m.ok()) {
        mr.note = absl::StrFormat("first: %.2f MB anonymous, %.2f MB file-backed", m->anon_mb,
                                  m->file_mb);
      }
    }
    mr.max_value = 1.5;
    if (ctrd) mr.compare.push_back({"shim RSS" + sfx});
    Row& mp = report.AddDistribution("memory", "monitor PSS" + sfx, "MB", mon.pss);
    if (ctrd) mp.compare.push_back({"shim PSS" + sfx});
    if (agent.ok()) {
      Row& t = report.AddValue("memory", "agentd+monitors RSS" + sfx, "MB",
                               agent->rss_mb + mon.rss_total);
      if (ctrd) t.compare.push_back({"containerd+shims RSS" + sfx});
    }

    // The same population in containerd, before the stats, so that the stats
    // rows of both run alternating over the same machine.
    bool ctr_ready = false;
    if (ctrd) {
      const double c0 = NowMs();
      while (static_cast<int>(ctr_ids.size()) < n) {
        const std::string cid = absl::StrCat("pop-", ctr_ids.size());
        if (status = env.CtrOk({"run", "-d", env.image(), cid, kSleeper[0], kSleeper[1]});
            !status.ok()) {
          break;
        }
        ctr_ids.push_back(cid);
      }
      // A failure here still lets the agent's stats rows below be measured.
      if (status.ok()) {
        ctr_ready = true;
        const double ctr_start_s = (NowMs() - c0) / 1000;
        absl::SleepFor(absl::Seconds(1));
        auto c = ReadProcMem(env.containerd_pid());
        const Mem shims = MemOf(env.ShimPids());
        if (c.ok()) {
          Row& r = report.AddValue("memory", "containerd RSS" + sfx, "MB", c->rss_mb);
          r.note = absl::StrFormat("containerd started %d containers in %.1f s", n, ctr_start_s);
          report.AddValue("memory", "containerd threads" + sfx, "threads", c->threads);
          report.AddValue("memory", "containerd+shims RSS" + sfx, "MB",
                          c->rss_mb + shims.rss_total);
        }
        report.AddDistribution("memory", "shim RSS" + sfx, "MB", shims.rss);
        report.AddDistribution("memory", "shim PSS" + sfx, "MB", shims.pss);
      }
    }

    if (auto s = StatsRows(env, o, report, n, agent_ids, ctr_ready ? ctr_ids : kNone);
        !s.ok() && status.ok()) {
      status = s;
    }
    if (Row* r = report.Find("stats", "ListStats" + sfx)) {
      r->note = absl::StrFormat("agent started %d containers in %.1f s", n, agent_start_s);
    }
    if (!status.ok()) break;
  }
  teardown();
  return status;
}

}  // namespace zlayer::bench
