#include "runtimes/oci/container_record.h"

#include <csignal>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/fs_util.h"
#include "base/time_util.h"
#include "core/errors.h"
#include "core/signals.h"
#include "runtimes/oci/restart_record.h"

namespace zlayer::oci {
namespace {

using core::ServiceSpec;
using nlohmann::json;

int64_t ToNanos(absl::Duration d) { return absl::ToInt64Nanoseconds(d); }

template <typename E>
const char* EnumName(E value, std::initializer_list<std::pair<E, const char*>> names) {
  for (const auto& [v, n] : names) {
    if (v == value) return n;
  }
  return names.begin()->second;
}

template <typename E>
E EnumValue(const std::string& name, std::initializer_list<std::pair<E, const char*>> names) {
  for (const auto& [v, n] : names) {
    if (name == n) return v;
  }
  return names.begin()->first;
}

const std::initializer_list<std::pair<core::PullPolicy, const char*>> kPolicies = {
    {core::PullPolicy::kIfNotPresent, "if_not_present"},
    {core::PullPolicy::kAlways, "always"},
    {core::PullPolicy::kNever, "never"}};
const std::initializer_list<std::pair<core::EndpointProtocol, const char*>> kProtocols = {
    {core::EndpointProtocol::kHttp, "http"},
    {core::EndpointProtocol::kHttps, "https"},
    {core::EndpointProtocol::kTcp, "tcp"},
    {core::EndpointProtocol::kUdp, "udp"}};
const std::initializer_list<std::pair<core::StorageType, const char*>> kStorage = {
    {core::StorageType::kBind, "bind"},
    {core::StorageType::kNamed, "named"},
    {core::StorageType::kTmpfs, "tmpfs"}};
const std::initializer_list<std::pair<core::HealthSpec::Check, const char*>> kChecks = {
    {core::HealthSpec::Check::kNone, "none"},
    {core::HealthSpec::Check::kTcp, "tcp"},
    {core::HealthSpec::Check::kHttp, "http"},
    {core::HealthSpec::Check::kCommand, "command"}};
const std::initializer_list<std::pair<core::InitAction::Kind, const char*>> kInitKinds = {
    {core::InitAction::Kind::kWaitTcp, "wait_tcp"},
    {core::InitAction::Kind::kWaitHttp, "wait_http"},
    {core::InitAction::Kind::kRun, "run"}};

}  // namespace

json SpecToJson(const ServiceSpec& s) {
  json j;
  j["rtype"] = s.rtype == core::ServiceType::kJob ? "job" : "service";
  j["image"] = {{"name", s.image.name}, {"pull_policy", EnumName(s.image.pull_policy, kPolicies)}};
  j["command"] = {{"entrypoint", s.command.entrypoint},
                  {"args", s.command.args},
                  {"workdir", s.command.workdir}};
  j["env"] = s.env;
  json r = json::object();
  if (s.resources.cpu) r["cpu"] = *s.resources.cpu;
  if (s.resources.memory_bytes) r["memory_bytes"] = *s.resources.memory_bytes;
  if (s.resources.pids_limit) r["pids_limit"] = *s.resources.pids_limit;
  j["resources"] = r;
  j["endpoints"] = json::array();
  for (const auto& e : s.endpoints) {
    j["endpoints"].push_back({{"name", e.name},
                              {"protocol", EnumName(e.protocol, kProtocols)},
                              {"port", e.port},
                              {"target_port", e.target_port}});
  }
  j["replicas"] = s.replicas;
  j["storage"] = json::array();
  for (const auto& m : s.storage) {
    j["storage"].push_back({{"type", EnumName(m.type, kStorage)},
                            {"source", m.source},
                            {"target", m.target},
                            {"readonly", m.readonly},
                            {"size_bytes", m.size_bytes}});
  }
  j["user"] = s.user;
  j["hostname"] = s.hostname;
  if (!s.network.empty()) j["network"] = s.network;
  j["cap_add"] = s.cap_add;
  j["cap_drop"] = s.cap_drop;
  j["privileged"] = s.privileged;
  j["read_only_root_fs"] = s.read_only_root_fs;
  j["stop_signal"] = s.stop_signal;
  if (s.stop_grace_period) j["stop_grace_period_ns"] = ToNanos(*s.stop_grace_period);
  j["labels"] = s.labels;
  if (s.health) {
    const auto& h = *s.health;
    j["health"] = {{"start_grace_ns", ToNanos(h.start_grace)},
                   {"interval_ns", ToNanos(h.interval)},
                   {"timeout_ns", ToNanos(h.timeout)},
                   {"retries", h.retries},
                   {"check", EnumName(h.check, kChecks)},
                   {"tcp_port", h.tcp_port},
                   {"http_url", h.http_url},
                   {"http_expect_status", h.http_expect_status},
                   {"command", h.command},
                   {"restart_on_unhealthy", h.restart_on_unhealthy}};
  }
  // The policy by its name (supervise::PolicyName), which carries max_retries.
  j["restart"] = {{"policy", supervise::PolicyName(s.restart)},
                  {"backoff_base_ns", ToNanos(s.restart.backoff_base)},
                  {"backoff_max_ns", ToNanos(s.restart.backoff_max)},
                  {"reset_after_ns", ToNanos(s.restart.reset_after)}};
  j["init"] = json::array();
  for (const auto& a : s.init) {
    j["init"].push_back({{"name", a.name},
                         {"kind", EnumName(a.kind, kInitKinds)},
                         {"host", a.host},
                         {"port", a.port},
                         {"url", a.url},
                         {"expect_status", a.expect_status},
                         {"command", a.command},
                         {"timeout_ns", ToNanos(a.timeout)},
                         {"retries", a.retries}});
  }
  if (s.init_process) j["init_process"] = *s.init_process;
  return j;
}

absl::StatusOr<ServiceSpec> SpecFromJson(const json& j) {
  try {
    ServiceSpec s;
    s.rtype = j.at("rtype") == "job" ? core::ServiceType::kJob : core::ServiceType::kService;
    s.image.name = j.at("image").at("name");
    s.image.pull_policy = EnumValue(j.at("image").value("pull_policy", ""), kPolicies);
    s.command.entrypoint = j.at("command").at("entrypoint").get<std::vector<std::string>>();
    s.command.args = j.at("command").at("args").get<std::vector<std::string>>();
    s.command.workdir = j.at("command").value("workdir", "");
    s.env = j.at("env").get<std::map<std::string, std::string>>();
    const json& r = j.at("resources");
    if (r.contains("cpu")) s.resources.cpu = r["cpu"].get<double>();
    if (r.contains("memory_bytes")) s.resources.memory_bytes = r["memory_bytes"].get<uint64_t>();
    if (r.contains("pids_limit")) s.resources.pids_limit = r["pids_limit"].get<int64_t>();
    for (const auto& e : j.at("endpoints")) {
      s.endpoints.push_back({e.at("name"), EnumValue(e.at("protocol").get<std::string>(), kProtocols),
                             e.at("port"), e.at("target_port")});
    }
    s.replicas = j.value("replicas", 0u);
    for (const auto& m : j.at("storage")) {
      core::StorageSpec st;
      st.type = EnumValue(m.at("type").get<std::string>(), kStorage);
      st.source = m.at("source");
      st.target = m.at("target");
      st.readonly = m.at("readonly");
      st.size_bytes = m.at("size_bytes");
      s.storage.push_back(std::move(st));
    }
    s.user = j.value("user", "");
    s.hostname = j.value("hostname", "");
    s.network = j.value("network", "");
    s.cap_add = j.at("cap_add").get<std::vector<std::string>>();
    s.cap_drop = j.at("cap_drop").get<std::vector<std::string>>();
    s.privileged = j.value("privileged", false);
    s.read_only_root_fs = j.value("read_only_root_fs", false);
    s.stop_signal = j.value("stop_signal", "");
    if (j.contains("stop_grace_period_ns")) {
      s.stop_grace_period = absl::Nanoseconds(j["stop_grace_period_ns"].get<int64_t>());
    }
    s.labels = j.at("labels").get<std::map<std::string, std::string>>();
    if (j.contains("health")) {
      const json& h = j["health"];
      core::HealthSpec hs;
      hs.start_grace = absl::Nanoseconds(h.at("start_grace_ns").get<int64_t>());
      hs.interval = absl::Nanoseconds(h.at("interval_ns").get<int64_t>());
      hs.timeout = absl::Nanoseconds(h.at("timeout_ns").get<int64_t>());
      hs.retries = h.at("retries");
      hs.check = EnumValue(h.at("check").get<std::string>(), kChecks);
      hs.tcp_port = h.at("tcp_port");
      hs.http_url = h.at("http_url");
      hs.http_expect_status = h.at("http_expect_status");
      hs.command = h.at("command").get<std::vector<std::string>>();
      hs.restart_on_unhealthy = h.value("restart_on_unhealthy", false);
      s.health = std::move(hs);
    }
    // Records written before supervision have none of the keys below: defaults.
    if (j.contains("restart")) {
      const json& r = j["restart"];
      auto policy = supervise::ParsePolicyName(r.value("policy", "no"));
      if (!policy.ok()) return core::Annotate(policy.status(), "stored spec is damaged");
      s.restart = *policy;
      s.restart.backoff_base = absl::Nanoseconds(r.value("backoff_base_ns", int64_t{0}));
      s.restart.backoff_max = absl::Nanoseconds(r.value("backoff_max_ns", int64_t{0}));
      s.restart.reset_after = absl::Nanoseconds(r.value("reset_after_ns", int64_t{0}));
    }
    for (const auto& a : j.value("init", json::array())) {
      core::InitAction step;
      step.name = a.value("name", "");
      step.kind = EnumValue(a.at("kind").get<std::string>(), kInitKinds);
      step.host = a.value("host", "");
      step.port = a.value("port", 0u);
      step.url = a.value("url", "");
      step.expect_status = a.value("expect_status", 0u);
      step.command = a.value("command", std::vector<std::string>{});
      step.timeout = absl::Nanoseconds(a.value("timeout_ns", int64_t{0}));
      step.retries = a.value("retries", 0u);
      s.init.push_back(std::move(step));
    }
    if (j.contains("init_process")) s.init_process = j["init_process"].get<bool>();
    return s;
  } catch (const json::exception& e) {
    return core::InvalidSpec(absl::StrCat("stored spec is damaged: ", e.what()));
  }
}

absl::Status WriteRecord(const std::string& path, const ContainerRecordFile& r) {
  json j = {{"version", 1},
            {"service", r.id.service},
            {"replica", r.id.replica},
            {"deployment", r.deployment},
            {"spec", SpecToJson(r.spec)},
            {"image_reference", r.image_reference},
            {"manifest_digest", r.manifest_digest},
            {"image_stop_signal", r.image_stop_signal},
            {"created_at", base::FormatRfc3339Nano(r.created_at)}};
  if (r.started_at) j["started_at"] = base::FormatRfc3339Nano(*r.started_at);
  if (!r.network_attachment.empty()) j["network"] = json::parse(r.network_attachment);
  if (r.init_process) j["init_process"] = true;
  j["restart"] = RestartStateToJson(r.restart);
  return base::WriteFileAtomic(path, j.dump(2), 0600);
}

absl::StatusOr<ContainerRecordFile> ReadRecord(const std::string& path) {
  auto text = base::ReadFile(path);
  if (!text.ok()) return text.status();
  auto j = json::parse(*text, nullptr, false);
  if (j.is_discarded()) return core::InvalidSpec(absl::StrCat(path, ": not JSON"));
  try {
    ContainerRecordFile r;
    r.id.service = j.at("service");
    r.id.replica = j.at("replica");
    r.deployment = j.at("deployment");
    auto spec = SpecFromJson(j.at("spec"));
    if (!spec.ok()) return spec.status();
    r.spec = std::move(*spec);
    r.image_reference = j.at("image_reference");
    r.manifest_digest = j.at("manifest_digest");
    r.image_stop_signal = j.value("image_stop_signal", "");
    auto created = base::ParseRfc3339(j.at("created_at").get<std::string>());
    if (!created.ok()) return created.status();
    r.created_at = *created;
    if (j.contains("started_at")) {
      auto started = base::ParseRfc3339(j["started_at"].get<std::string>());
      if (started.ok()) r.started_at = *started;
    }
    if (j.contains("network") && j["network"].is_object())
      r.network_attachment = j["network"].dump();
    r.init_process = j.value("init_process", false);
    if (j.contains("restart")) {
      auto restart = RestartStateFromJson(j["restart"]);
      if (!restart.ok()) return core::Annotate(restart.status(), path);
      r.restart = std::move(*restart);
    }
    return r;
  } catch (const json::exception& e) {
    return core::InvalidSpec(absl::StrCat(path, ": ", e.what()));
  }
}

core::WaitOutcome ExitRecord::ToOutcome() const {
  if (runtime_error) {
    // The monitor records the runtime's own exit code (not 128) for a failed start.
    core::WaitOutcome failed = core::WaitOutcome::RuntimeError(error, finished_at);
    failed.exit_code = exit_code;
    return failed;
  }
  core::WaitOutcome o;
  o.exit_code = exit_code;
  o.finished_at = finished_at;
  // Under an init the kernel kills the workload, and the init exits 137.
  if (oom_killed || (via_init && exit_code == 128 + SIGKILL && oom_kills > 0)) {
    o.reason = core::WaitReason::kOomKilled;
    o.signal = core::SignalNameFromExitCode(exit_code);
  } else if (signal != 0) {
    o.reason = core::WaitReason::kSignal;
    o.signal = core::SignalNameFromExitCode(exit_code);
  } else if (via_init && exit_code > 128 && exit_code <= 128 + 64) {
    // The init (tini) exits 128+N when the workload died of signal N: report it as
    // if PID 1 itself had been killed, so the outcome names the workload's signal,
    // not the init's plain exit. Ambiguous by construction: a workload that itself
    // exits 143 under an init reads as SIGTERM too (as it does under Docker's
    // --init and any shell); 129..192 only, since real signals are 1..64.
    o.reason = core::WaitReason::kSignal;
    o.signal = core::SignalNameFromExitCode(exit_code);
  } else {
    o.reason = core::WaitReason::kExited;
  }
  return o;
}

core::ContainerState ExitRecord::ToState() const {
  if (runtime_error) return core::ContainerState::Failed(error);
  return core::ContainerState::Exited(exit_code);
}

absl::StatusOr<ExitRecord> ReadExitRecord(const std::string& path) {
  auto text = base::ReadFile(path);
  if (!text.ok()) return text.status();
  auto j = json::parse(*text, nullptr, false);
  if (j.is_discarded()) return core::InvalidSpec(absl::StrCat(path, ": not JSON"));
  ExitRecord r;
  r.exit_code = j.value("exit_code", 0);
  r.signal = j.value("signal", 0);
  r.oom_killed = j.value("oom_killed", false);
  r.oom_kills = j.value("oom_kills", uint64_t{0});
  r.runtime_error = j.value("runtime_error", false);
  r.error = j.value("error", "");
  if (auto t = base::ParseRfc3339(j.value("finished_at", "")); t.ok()) r.finished_at = *t;
  return r;
}

absl::Status WriteExitRecord(const std::string& path, const ExitRecord& r) {
  json j = {{"exit_code", r.exit_code},     {"signal", r.signal},
            {"oom_killed", r.oom_killed},   {"runtime_error", r.runtime_error},
            {"error", r.error}};
  if (r.finished_at) j["finished_at"] = base::FormatRfc3339Nano(*r.finished_at);
  return base::WriteFileAtomic(path, j.dump(), 0600);
}

absl::StatusOr<MonitorRecord> ReadMonitorRecord(const std::string& path) {
  auto text = base::ReadFile(path);
  if (!text.ok()) return text.status();
  auto j = json::parse(*text, nullptr, false);
  if (j.is_discarded()) return core::InvalidSpec(absl::StrCat(path, ": not JSON"));
  MonitorRecord r;
  r.monitor_pid = j.value("monitor_pid", 0);
  r.monitor_start_ticks = j.value("monitor_start_ticks", 0ull);
  r.init_pid = j.value("init_pid", 0);
  r.init_start_ticks = j.value("init_start_ticks", 0ull);
  if (auto t = base::ParseRfc3339(j.value("started_at", "")); t.ok()) r.started_at = *t;
  return r;
}

unsigned long long ProcessStartTicks(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  auto text = base::ReadFile(path);
  if (!text.ok()) return 0;
  const auto close = text->rfind(')');
  if (close == std::string::npos) return 0;
  int field = 2;
  size_t i = close + 1;
  for (; i < text->size() && field < 22; ++i) {
    if ((*text)[i] == ' ') ++field;
  }
  return std::strtoull(text->c_str() + i, nullptr, 10);
}

}  // namespace zlayer::oci
