// zlayer_bench: the side-by-side performance suite (see docs/performance.md).
// Starts a loopback registry, zlayer-agentd, containerd and raw runc, runs every
// case alternating the contenders, and writes JSON plus a table. bench/run.sh
// installs what is missing, builds, and runs this.
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/fs_util.h"
#include "bench/cases/cases.h"
#include "bench/harness/procinfo.h"

namespace zb = zlayer::bench;

namespace {

const char* kUsage = R"(usage: zlayer_bench [options]
  --cases LIST          comma-separated, from: grpc,memory,run,network,exec,streams,pull
                        (default all)
  --smoke               tiny counts for CI: proves the suite runs, measures nothing
  --warmup N            untimed runs per contender before the timed rounds (default 3)
  --iterations N        timed rounds, contenders alternating (default 30)
  --populations LIST    running containers for memory and stats (default 50,200)
  --streams LIST        open streams of each kind (default 100,1000,2000)
  --pull-mb N           pull image size, uncompressed MiB (default 200)
  --pull-iterations N   cold pulls per tool (default 3)
  --json FILE           write the results as JSON
  --table FILE          write the human table
  --markdown FILE       write the table as Markdown
  --agentd PATH         zlayer-agentd to measure (default: this build's)
  --data-parent DIR     where agent, containerd and bundle data live (default /var/tmp)
  --no-containerd       skip the containerd contenders
  --no-metrics          start the agent without its /metrics listener (and RPC
                        metrics); the /metrics scrape rows are left out
  --label TEXT          free text stored in the JSON (e.g. the git revision)
Needs root, runc, containerd/ctr and skopeo (scripts/install-deps.sh --with-bench).
Exit: 0 all cases ran, 1 a case failed, 2 usage, 77 cannot run here (not root, no runc).
)";

bool ParseList(const char* s, std::vector<int>* out) {
  out->clear();
  for (absl::string_view p : absl::StrSplit(s, ',', absl::SkipEmpty())) {
    int v;
    if (!absl::SimpleAtoi(p, &v) || v <= 0) return false;
    out->push_back(v);
  }
  return !out->empty();
}

std::string ReadFirst(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) {
      // "key : value" (/proc) or KEY="value" (os-release).
      auto sep = line.find_first_of(":=", key.size());
      std::string v = sep == std::string::npos ? line : line.substr(sep + 1);
      v.erase(0, v.find_first_not_of(" \t\""));
      if (!v.empty() && v.back() == '"') v.pop_back();
      return v;
    }
  }
  return "";
}

nlohmann::json Machine() {
  struct utsname u;
  ::uname(&u);
  return {{"hostname_hash", std::hash<std::string>()(u.nodename) % 100000},
          {"kernel", std::string(u.release)},
          {"arch", std::string(u.machine)},
          {"cpu", ReadFirst("/proc/cpuinfo", "model name")},
          {"cpus_online", ::sysconf(_SC_NPROCESSORS_ONLN)},
          {"memory", ReadFirst("/proc/meminfo", "MemTotal")},
          {"os", ReadFirst("/etc/os-release", "PRETTY_NAME")},
          {"date", absl::FormatTime(absl::RFC3339_sec, absl::Now(), absl::UTCTimeZone())}};
}

}  // namespace

int main(int argc, char** argv) {
  zb::CaseOptions o;
  zb::EnvOptions env_options;
  env_options.agentd_bin = ZLAYER_AGENTD_BIN;
  std::vector<std::string> cases = {"grpc", "memory", "run", "network", "exec", "streams", "pull"};
  std::string json_path, table_path, md_path, label;
  bool smoke = false;
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  o.self_exe = n > 0 ? std::string(self, static_cast<size_t>(n)) : argv[0];

  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    auto need = [&]() {
      if (!v) {
        std::fprintf(stderr, "%s needs a value\n%s", a.c_str(), kUsage);
        std::exit(2);
      }
      ++i;
      return v;
    };
    auto need_int = [&]() {
      int x;
      if (!absl::SimpleAtoi(need(), &x) || x < 0) {
        std::fprintf(stderr, "%s needs a number\n", a.c_str());
        std::exit(2);
      }
      return x;
    };
    if (a == "--floor-server") return zb::RunFloorServer(need());
    if (a == "--smoke") {
      smoke = true;
    } else if (a == "--cases") {
      cases = absl::StrSplit(need(), ',', absl::SkipEmpty());
    } else if (a == "--warmup") {
      o.warmup = need_int();
    } else if (a == "--iterations") {
      o.iterations = std::max(1, need_int());
    } else if (a == "--populations") {
      if (!ParseList(need(), &o.populations)) return 2;
    } else if (a == "--streams") {
      if (!ParseList(need(), &o.streams)) return 2;
    } else if (a == "--pull-mb") {
      o.pull_mb = std::max(1, need_int());
    } else if (a == "--pull-iterations") {
      o.pull_iterations = std::max(1, need_int());
    } else if (a == "--json") {
      json_path = need();
    } else if (a == "--table") {
      table_path = need();
    } else if (a == "--markdown") {
      md_path = need();
    } else if (a == "--agentd") {
      env_options.agentd_bin = need();
    } else if (a == "--data-parent") {
      env_options.data_parent = need();
    } else if (a == "--no-containerd") {
      env_options.containerd = false;
    } else if (a == "--no-metrics") {
      env_options.metrics = false;
    } else if (a == "--label") {
      label = need();
    } else {
      std::fprintf(stderr, "%s", kUsage);
      return a == "--help" ? 0 : 2;
    }
  }
  if (smoke) {
    o.warmup = 1;
    o.iterations = 3;
    o.populations = {3, 6};
    o.streams = {10, 20};
    o.unary_calls = 50;
    o.floor_calls = 200;
    o.pull_mb = 8;
    o.pull_warmup = 0;
    o.pull_iterations = 1;
  }
  if (::geteuid() != 0 || !zlayer::base::FindExecutable("runc").ok()) {
    std::fprintf(stderr, "zlayer_bench: needs root and runc; skipping\n");
    return 77;
  }
  zb::InstallInterruptHandler();

  zb::Report report;
  nlohmann::json config = {{"warmup", o.warmup},
                           {"iterations", o.iterations},
                           {"populations", o.populations},
                           {"streams", o.streams},
                           {"pull_mb", o.pull_mb},
                           {"pull_iterations", o.pull_iterations},
                           {"smoke", smoke},
                           {"cases", cases},
                           {"label", label}};
  nlohmann::json machine = Machine();
  std::fprintf(stderr, "bench: starting registry, agent%s and runc bundles\n",
               env_options.containerd ? ", containerd" : "");
  auto env = zb::BenchEnv::Create(env_options);
  if (!env.ok()) {
    std::fprintf(stderr, "bench: set-up failed: %s\n", env.status().ToString().c_str());
    return 1;
  }
  // Written now, not only with the results: a run killed halfway leaves the smoke
  // test this to clean up after it.
  if (!json_path.empty()) {
    (void)zlayer::base::WriteFileAtomic(json_path + ".footprint", (*env)->Footprint().dump() + "\n",
                                        0644, false);
  }
  machine["versions"] = (*env)->Versions();
  report.SetMachine(machine);
  // Whether the agent served /metrics (and so ran its RPC metrics interceptor).
  config["agent_metrics"] = !(*env)->metrics_address().empty();
  report.SetConfig(config);

  const std::map<std::string, absl::Status (*)(zb::BenchEnv&, const zb::CaseOptions&, zb::Report&)>
      table = {{"grpc", zb::GrpcFloorCase},
               {"memory", zb::PopulationCase},
               {"run", zb::RunToCompletionCase},
               {"network", zb::NetworkCase},
               {"exec", zb::ExecCase},
               {"streams", zb::StreamsCase},
               {"pull", zb::PullCase}};
  bool failed = false;
  for (const auto& c : cases) {
    if (zb::Interrupted()) break;
    auto it = table.find(c);
    if (it == table.end()) {
      std::fprintf(stderr, "bench: unknown case %s\n", c.c_str());
      failed = true;
      continue;
    }
    const double load0 = zb::LoadAverage1();
    std::fprintf(stderr, "bench: case %s (load %.2f)\n", c.c_str(), load0);
    const double t0 = zb::NowMs();
    absl::Status s = it->second(**env, o, report);
    report.AddLoad(c, load0, zb::LoadAverage1());
    std::fprintf(stderr, "bench: case %s %s in %.1f s\n", c.c_str(),
                 s.ok() ? "done" : s.ToString().c_str(), (zb::NowMs() - t0) / 1000);
    if (!s.ok()) {
      failed = true;
      zb::Row& r = report.Add({});
      r.case_name = c;
      r.variant = "(case failed)";
      r.error = s.ToString();
    }
  }
  if (auto idle = zb::ReadProcMem((*env)->agent_pid()); idle.ok()) {
    report.AddValue("memory", "agentd RSS after all cases", "MB", idle->rss_mb);
  }
  report.SetFootprint((*env)->Footprint());
  env->reset();  // stops everything before the report is written
  report.Finish();

  const std::string text = absl::StrCat(report.Table(), "\n", report.LoadSummary(), "\n");
  std::printf("%s", text.c_str());
  if (!table_path.empty()) (void)zlayer::base::WriteFileAtomic(table_path, text, 0644, false);
  if (!md_path.empty()) {
    (void)zlayer::base::WriteFileAtomic(md_path, report.Markdown(), 0644, false);
  }
  if (!json_path.empty()) {
    (void)zlayer::base::WriteFileAtomic(json_path, report.ToJson().dump(2) + "\n", 0644, false);
  }
  if (zb::Interrupted()) return 130;
  return failed || !report.HasNumbers() ? 1 : 0;
}
