// /metrics of a real agent with real containers: the text parses with an independent
// parser (python3-prometheus-client's), the container families equal the kernel's
// cgroup files, and the agent's own families count what happened.
#include <stdio.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cgroups/layout.h"
#include "cgroups/locate.h"
#include "nlohmann/json.hpp"
#include "oci_env.h"
#include "support/test_support.h"

using namespace zlayer::testing;
namespace pb = zlayer::agent::v1;

namespace {

constexpr uint64_t kMiB = 1ull << 20;

struct Sample {
  std::map<std::string, std::string> labels;
  double value = 0;
};
using Scrape = std::multimap<std::string, Sample>;

// stdout of a shell pipeline, and its exit status.
std::string Shell(const std::string& command, int* status) {
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = ::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  *status = ::pclose(pipe);
  return out;
}

// Fetches /metrics with curl and parses it with the Python client's parser; every
// sample, by name.
Scrape ScrapeMetrics(const std::string& address) {
  const std::string parser = SourcePath("tests/interop/parse_metrics.py");
  const auto dir = MakeTempDir("zt-metrics-");
  const std::string text = dir.path() + "/metrics.txt";
  int status = 0;
  const std::string out =
      Shell(absl::StrCat("curl -sf --max-time 20 -o ", text, " http://", address,
                         "/metrics && /usr/bin/python3 ", parser, " < ", text, " 2>&1"),
            &status);
  INFO(out.substr(0, 4000));
  REQUIRE(status == 0);
  Scrape scrape;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    const auto j = nlohmann::json::parse(line);
    Sample s;
    for (const auto& [k, v] : j["labels"].items()) s.labels[k] = v.get<std::string>();
    s.value = j["value"].get<double>();
    scrape.emplace(j["name"].get<std::string>(), std::move(s));
  }
  return scrape;
}

// The one sample of `name` whose labels include `match`; nullopt if none.
std::optional<double> Find(const Scrape& scrape, const std::string& name,
                           const std::map<std::string, std::string>& match) {
  std::optional<double> found;
  auto [begin, end] = scrape.equal_range(name);
  for (auto it = begin; it != end; ++it) {
    bool all = true;
    for (const auto& [k, v] : match) {
      auto l = it->second.labels.find(k);
      all = all && l != it->second.labels.end() && l->second == v;
    }
    if (all) {
      REQUIRE_FALSE(found.has_value());  // the series must be unique
      found = it->second.value;
    }
  }
  return found;
}

uint64_t ReadNumber(const std::string& path) {
  std::ifstream in(path);
  INFO(path);
  REQUIRE(in.good());
  uint64_t v = 0;
  in >> v;
  return v;
}

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// What the kernel's files say about a container's cgroup, read here without the
// agent's reader: the v2 file where the host has it, else the v1 one.
struct KernelFigures {
  uint64_t memory = 0, limit = 0, cpu_usec = 0;
  std::optional<uint64_t> pids;
};

zlayer::cgroups::CgroupPaths PathsOf(OciEnv& env, const pb::ContainerId& id) {
  pb::GetContainerPidRequest req;
  *req.mutable_id() = id;
  pb::GetContainerPidResponse resp;
  REQUIRE(env.stub().GetContainerPid(Ctx().get(), req, &resp).ok());
  REQUIRE(resp.has_pid());
  auto layout = zlayer::cgroups::HostLayout::Detect();
  REQUIRE(layout.ok());
  auto paths = zlayer::cgroups::LocateByPid(*layout, static_cast<pid_t>(resp.pid()));
  REQUIRE(paths.ok());
  return *paths;
}

KernelFigures ReadKernel(const zlayer::cgroups::CgroupPaths& p) {
  KernelFigures k;
  if (!p.unified.empty() && Exists(p.unified + "/memory.current")) {
    k.memory = ReadNumber(p.unified + "/memory.current");
    std::ifstream max(p.unified + "/memory.max");
    std::string text;
    max >> text;
    if (text != "max") REQUIRE(absl::SimpleAtoi(text, &k.limit));
  } else {
    k.memory = ReadNumber(p.memory + "/memory.usage_in_bytes");
    k.limit = ReadNumber(p.memory + "/memory.limit_in_bytes");
    if (k.limit >= (1ull << 62)) k.limit = 0;  // v1's "unlimited"
  }
  if (!p.unified.empty() && Exists(p.unified + "/cpu.stat")) {
    std::ifstream stat(p.unified + "/cpu.stat");
    std::string key;
    uint64_t value;
    while (stat >> key >> value) {
      if (key == "usage_usec") k.cpu_usec = value;
    }
  } else {
    k.cpu_usec = ReadNumber(p.cpuacct + "/cpuacct.usage") / 1000;
  }
  if (!p.unified.empty() && Exists(p.unified + "/pids.current")) {
    k.pids = ReadNumber(p.unified + "/pids.current");
  } else if (!p.pids.empty()) {
    k.pids = ReadNumber(p.pids + "/pids.current");
  }
  return k;
}

// True when `value` lies between two readings taken around it.
bool Between(double value, double a, double b, double slack = 0) {
  return value >= std::min(a, b) - slack && value <= std::max(a, b) + slack;
}

}  // namespace

TEST_CASE("metrics: /metrics parses; container values equal the cgroup files", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env({"--metrics-address", "127.0.0.1:0"});
  pb::GetAgentInfoResponse info;
  REQUIRE(env.stub().GetAgentInfo(Ctx().get(), {}, &info).ok());
  const std::string address = info.metrics_address();
  INFO("metrics at " << address);
  REQUIRE(absl::StartsWith(address, "127.0.0.1:"));

  auto mem_spec = env.Hog({"mem", "64"});
  mem_spec.mutable_resources()->set_memory_bytes(256 * kMiB);
  const auto memhog = env.Create("memhog", 1, mem_spec);
  const auto forker = env.Create("forker", 2, env.Hog({"fork", "5"}));
  const auto idle = env.Create("idle", 1, env.Shell("sleep 600"));  // created, not started
  env.Start(memhog);
  env.Start(forker);
  env.AwaitReady(memhog);
  env.AwaitReady(forker);

  const auto mem_paths = PathsOf(env, memhog);
  const auto fork_paths = PathsOf(env, forker);
  const KernelFigures mem_before = ReadKernel(mem_paths), fork_before = ReadKernel(fork_paths);
  const Scrape scrape = ScrapeMetrics(address);
  const KernelFigures mem_after = ReadKernel(mem_paths), fork_after = ReadKernel(fork_paths);

  const std::map<std::string, std::string> mem_labels = {{"id", "memhog-rep-1"},
                                                         {"service", "memhog"},
                                                         {"replica", "1"},
                                                         {"deployment", "tests"},
                                                         {"image", env.image()}};
  const std::map<std::string, std::string> fork_labels = {{"id", "forker-rep-2"}};

  SECTION("memory and its limit") {
    auto usage = Find(scrape, "container_memory_usage_bytes", mem_labels);
    REQUIRE(usage);
    CHECK(Between(*usage, mem_before.memory, mem_after.memory));
    CHECK(*usage >= 64.0 * kMiB);
    auto limit = Find(scrape, "container_spec_memory_limit_bytes", mem_labels);
    REQUIRE(limit);
    CHECK(*limit == 256.0 * kMiB);
    CHECK(*limit == static_cast<double>(mem_after.limit));
    auto working = Find(scrape, "container_memory_working_set_bytes", mem_labels);
    REQUIRE(working);
    CHECK(*working <= *usage);
    CHECK(*working >= 63.0 * kMiB);  // the touched anonymous memory is never inactive cache
    // No limit reads as 0, as cAdvisor prints it.
    CHECK(Find(scrape, "container_spec_memory_limit_bytes", fork_labels) == 0.0);
  }
  SECTION("cpu and processes") {
    for (const auto& [labels, before, after] : {std::tuple{mem_labels, mem_before, mem_after},
                                                std::tuple{fork_labels, fork_before, fork_after}}) {
      auto cpu = Find(scrape, "container_cpu_usage_seconds_total", labels);
      REQUIRE(cpu);
      CHECK(Between(*cpu, before.cpu_usec / 1e6, after.cpu_usec / 1e6, 1e-6));
    }
    REQUIRE(fork_after.pids);
    auto processes = Find(scrape, "container_processes", fork_labels);
    REQUIRE(processes);
    CHECK(*processes == 6.0);
    CHECK(*processes == static_cast<double>(*fork_after.pids));
    // Created but never started: no cgroup, so no series.
    CHECK_FALSE(Find(scrape, "container_processes", {{"id", "idle-rep-1"}}));
  }
  SECTION("the agent's own families") {
    CHECK(Find(scrape, "zlayer_containers", {{"phase", "running"}}) == 2.0);
    // Created and never started is INITIALIZING on the OCI backend (docs/api.md).
    CHECK(Find(scrape, "zlayer_containers", {{"phase", "initializing"}}).value_or(-1) == 1.0);
    CHECK(Find(scrape, "zlayer_monitors", {}) == 2.0);
    CHECK(Find(scrape, "grpc_server_handled_total",
               {{"grpc_method", "CreateContainer"}, {"grpc_code", "OK"}}) == 3.0);
    CHECK(Find(scrape, "grpc_server_handling_seconds_count", {{"grpc_method", "StartContainer"}}) ==
          2.0);
    CHECK(Find(scrape, "grpc_server_handling_seconds_bucket",
               {{"grpc_method", "StartContainer"}, {"le", "+Inf"}}) == 2.0);
    auto rss = Find(scrape, "process_resident_memory_bytes", {});
    REQUIRE(rss);
    CHECK(*rss > 1.0 * kMiB);
    CHECK(Find(scrape, "zlayer_scrape_containers_ok", {}) == 1.0);
    auto journal = Find(scrape, "zlayer_events_journal_events", {});
    REQUIRE(journal);
    CHECK(*journal >= 5.0);  // agent started/recovered, 3 created, 2 started
  }
  SECTION("a removed container's series go; others answer 404 and 405") {
    env.Remove(forker);
    const Scrape later = ScrapeMetrics(address);
    CHECK_FALSE(Find(later, "container_cpu_usage_seconds_total", fork_labels));
    CHECK(Find(later, "container_cpu_usage_seconds_total", mem_labels));
    CHECK(Find(later, "grpc_server_handled_total",
               {{"grpc_method", "RemoveContainer"}, {"grpc_code", "OK"}}) == 1.0);
    int status = 0;
    CHECK(Shell(absl::StrCat("curl -s -o /dev/null -w '%{http_code}' http://", address, "/"),
                &status) == "404");
    CHECK(Shell(absl::StrCat("curl -s -o /dev/null -w '%{http_code}' -X POST http://", address,
                             "/metrics"),
                &status) == "405");
  }
  (void)idle;
}

TEST_CASE("metrics: a pull is counted with its bytes; off unless asked for", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  SECTION("on") {
    OciEnv env({"--metrics-address", "127.0.0.1:0"});
    pb::GetAgentInfoResponse info;
    REQUIRE(env.stub().GetAgentInfo(Ctx().get(), {}, &info).ok());
    uint64_t downloaded = 0;  // what the pull's own progress says it fetched
    for (const auto& image : {env.image(), env.image() + "-missing"}) {
      pb::PullImageRequest req;
      req.set_image(image);
      auto ctx = Ctx(absl::Seconds(120));
      auto reader = env.stub().PullImage(ctx.get(), req);
      pb::PullImageEvent event;
      std::map<std::string, uint64_t> layers;
      while (reader->Read(&event)) {
        if (event.has_layer()) layers[event.layer().digest()] = event.layer().bytes_done();
      }
      const bool ok = reader->Finish().ok();
      CHECK(ok == (image == env.image()));
      for (const auto& [digest, bytes] : layers) downloaded += bytes;
    }
    const Scrape scrape = ScrapeMetrics(info.metrics_address());
    CHECK(Find(scrape, "zlayer_image_pulls_total", {{"result", "ok"}}) == 1.0);
    CHECK(Find(scrape, "zlayer_image_pulls_total", {{"result", "error"}}) == 1.0);
    CHECK(downloaded > 0);
    CHECK(Find(scrape, "zlayer_image_pull_bytes_total", {}) == static_cast<double>(downloaded));
    CHECK(Find(scrape, "zlayer_image_pull_duration_seconds_count", {}) == 2.0);
    CHECK(
        Find(scrape, "grpc_server_handled_total",
             {{"grpc_method", "PullImage"}, {"grpc_type", "server_stream"}, {"grpc_code", "OK"}}) ==
        1.0);
  }
  SECTION("off") {
    OciEnv env;
    pb::GetAgentInfoResponse info;
    REQUIRE(env.stub().GetAgentInfo(Ctx().get(), {}, &info).ok());
    CHECK(info.metrics_address().empty());
    CHECK(env.agent().Log().find("metrics at") == std::string::npos);
  }
}
