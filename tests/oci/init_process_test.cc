// An init as PID 1 (oci.init_process / --init-process, runtimes/oci/init_process.h):
// real containers without and with tini, plus the pure pieces (the ELF probe, the
// bundle change, the exit translation) without root.
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "oci_env.h"
#include "runtimes/oci/container_record.h"
#include "runtimes/oci/init_process.h"
#include "support/test_support.h"

using namespace zlayer::testing;
namespace pb = zlayer::agent::v1;
namespace oci = zlayer::oci;

namespace {

constexpr char kTini[] = "/usr/bin/tini-static";

bool IsCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

// The init cases need Debian's tini; under CI its absence is a failure, not a skip.
bool HaveTini() {
  if (oci::CheckStaticExecutable(kTini).empty()) return true;
  if (IsCi()) FAIL("the init_process tests need " << kTini << " (apt install tini)");
  WARN("skipped: " << kTini << " is missing (apt install tini)");
  return false;
}

pb::ServiceSpec Sleep(OciEnv& env) {
  pb::ServiceSpec spec;
  spec.mutable_image()->set_name(env.image());
  // sleep itself as the command (not through sh) so that, without an init, it is
  // PID 1 with SIGTERM at its default action.
  spec.mutable_command()->add_entrypoint("sleep");
  spec.mutable_command()->add_args("1000");
  return spec;
}

void Kill(OciEnv& env, const pb::ContainerId& id, const std::string& signal) {
  pb::KillContainerRequest req;
  *req.mutable_id() = id;
  req.set_signal(signal);
  pb::KillContainerResponse resp;
  auto s = env.stub().KillContainer(Ctx().get(), req, &resp);
  INFO(s.error_message());
  REQUIRE(s.ok());
}

uint32_t PidOf(OciEnv& env, const pb::ContainerId& id) {
  pb::GetContainerPidRequest req;
  *req.mutable_id() = id;
  pb::GetContainerPidResponse resp;
  REQUIRE(env.stub().GetContainerPid(Ctx().get(), req, &resp).ok());
  REQUIRE(resp.has_pid());
  return resp.pid();
}

struct ProcStat {
  pid_t ppid = 0;
  char state = '?';
};

// The host's process table from /proc/PID/stat: state and parent.
std::map<pid_t, ProcStat> ProcessTable() {
  std::map<pid_t, ProcStat> table;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return table;
  while (dirent* e = ::readdir(dir)) {
    pid_t pid;
    if (!absl::SimpleAtoi(e->d_name, &pid)) continue;
    auto text = zlayer::base::ReadFile(absl::StrCat("/proc/", pid, "/stat"));
    if (!text.ok()) continue;
    // "PID (comm) S PPID ...": comm may hold spaces and parentheses.
    const auto close = text->rfind(')');
    if (close == std::string::npos || close + 4 > text->size()) continue;
    ProcStat st;
    st.state = (*text)[close + 2];
    (void)absl::SimpleAtoi(text->substr(close + 4, text->find(' ', close + 4) - close - 4),
                           &st.ppid);
    table[pid] = st;
  }
  ::closedir(dir);
  return table;
}

// Zombies below the container's PID 1 (a zombie is listed in no cgroup.procs, so
// the tree is walked from its host pid instead).
int ZombiesUnder(pid_t init) {
  const auto table = ProcessTable();
  int zombies = 0;
  for (const auto& [pid, st] : table) {
    for (pid_t p = st.ppid; p > 1; p = table.count(p) ? table.at(p).ppid : 0) {
      if (p == init) {
        zombies += st.state == 'Z';
        break;
      }
    }
  }
  return zombies;
}

// The orphaned `sleep 0.2` is reparented to the namespace's PID 1 and exits there.
constexpr char kZombieMaker[] = "(sleep 0.2 &); exec sleep 1000";

}  // namespace

// Pure pieces --------------------------------------------------------------------

TEST_CASE("init process: the probe takes static binaries only and names what to install", "[unit]") {
  // /bin/sh on Debian is dash, dynamically linked.
  CHECK(absl::StrContains(oci::CheckStaticExecutable("/bin/sh"), "dynamically linked"));
  CHECK(absl::StrContains(oci::CheckStaticExecutable("/etc/passwd"), "not executable"));
  CHECK(absl::StrContains(oci::CheckStaticExecutable("/nonexistent/tini"), "cannot be opened"));
  auto configured = oci::ProbeInitBinary("/bin/sh");
  CHECK(configured.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(absl::StrContains(configured.status().message(), "apt install tini"));
  if (HaveTini()) {
    auto found = oci::ProbeInitBinary("");
    REQUIRE(found.ok());
    CHECK(found->path == kTini);
    CHECK(found->name == "tini");
  }

  // Wanted by the spec or, when it says nothing, by the agent's default.
  zlayer::core::ServiceSpec spec;
  zlayer::runtimes::BackendConfig config;
  config.init_path = "/bin/sh";  // unusable, so a re-probe fails too
  const absl::StatusOr<oci::InitBinary> missing = absl::NotFoundError("not probed");
  auto off = oci::ResolveInit(spec, config, missing);
  REQUIRE(off.ok());
  CHECK_FALSE(off->has_value());
  config.init_process = true;
  auto wanted = oci::ResolveInit(spec, config, missing);
  CHECK(wanted.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(absl::StrContains(wanted.status().message(), "default is on"));
  spec.init_process = false;
  CHECK_FALSE(oci::ResolveInit(spec, config, missing)->has_value());
  spec.init_process = true;
  config.init_process = false;
  const absl::StatusOr<oci::InitBinary> probed = oci::InitBinary{kTini, "tini"};
  auto chosen = oci::ResolveInit(spec, config, probed);
  REQUIRE(chosen.ok());
  REQUIRE(chosen->has_value());
  CHECK((*chosen)->path == kTini);
}

TEST_CASE("init process: the bundle runs the command under the init, mounted read-only", "[unit]") {
  nlohmann::json config = {
      {"process",
       {{"args", nlohmann::json::array({"sleep", "1000"})},
        {"env", nlohmann::json::array({"A=1"})},
        {"cwd", "/w"}}},
      {"mounts", nlohmann::json::array()}};
  oci::ApplyInit({kTini, "tini"}, &config);
  CHECK(config["process"]["args"] ==
        nlohmann::json::array({"/sbin/zlayer-init", "--", "sleep", "1000"}));
  CHECK(config["process"]["env"] == nlohmann::json::array({"A=1"}));
  CHECK(config["process"]["cwd"] == "/w");
  REQUIRE(config["mounts"].size() == 1);
  const auto& m = config["mounts"][0];
  CHECK(m["destination"] == "/sbin/zlayer-init");
  CHECK(m["source"] == kTini);
  for (const char* opt : {"ro", "nosuid", "nodev"}) {
    INFO(opt);
    CHECK(std::find(m["options"].begin(), m["options"].end(), opt) != m["options"].end());
  }
  CHECK(std::find(m["options"].begin(), m["options"].end(), "noexec") == m["options"].end());
}

TEST_CASE("init process: 128+N from the init reads as signal N, OOM stays OOM", "[unit]") {
  oci::ExitRecord r;
  r.exit_code = 143;
  auto plain = r.ToOutcome();
  CHECK(plain.reason == zlayer::core::WaitReason::kExited);  // no init: the code as is
  r.via_init = true;
  auto o = r.ToOutcome();
  CHECK(o.reason == zlayer::core::WaitReason::kSignal);
  CHECK(o.signal == "SIGTERM");
  CHECK(o.exit_code == 143);
  r.exit_code = 3;
  CHECK(r.ToOutcome().reason == zlayer::core::WaitReason::kExited);
  r.exit_code = 128;  // no signal 0
  CHECK(r.ToOutcome().reason == zlayer::core::WaitReason::kExited);
  r.exit_code = 128 + 65;  // beyond the last real-time signal
  CHECK(r.ToOutcome().reason == zlayer::core::WaitReason::kExited);
  r.exit_code = 137;
  r.oom_killed = true;
  CHECK(r.ToOutcome().reason == zlayer::core::WaitReason::kOomKilled);
}

// Real containers ------------------------------------------------------------------

TEST_CASE("init process: without one, SIGTERM to a sleep as PID 1 is dropped", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  const auto id = env.Create("noinit", 1, Sleep(env));
  env.Start(id);
  Kill(env, id, "SIGTERM");
  ::sleep(1);
  CHECK(env.State(id).phase() == pb::CONTAINER_PHASE_RUNNING);
}

TEST_CASE("init process: with one, SIGTERM ends the workload and Stop needs no KILL", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  if (!HaveTini()) return;
  OciEnv env({"--init-process"});
  {
    const auto id = env.Create("init", 1, Sleep(env));
    env.Start(id);
    Kill(env, id, "SIGTERM");
    const auto outcome = env.WaitOutcome(id);
    CHECK(outcome.exit_code() == 143);
    CHECK(outcome.reason() == pb::WAIT_REASON_SIGNAL);
    CHECK(outcome.signal() == "SIGTERM");
  }
  {
    const auto id = env.Create("init", 2, Sleep(env));
    env.Start(id);
    pb::StopContainerRequest req;
    *req.mutable_id() = id;
    req.mutable_timeout()->set_seconds(30);
    pb::StopContainerResponse resp;
    const absl::Time before = absl::Now();
    auto s = env.stub().StopContainer(Ctx(absl::Seconds(60)).get(), req, &resp);
    const absl::Duration took = absl::Now() - before;
    INFO(s.error_message());
    REQUIRE(s.ok());
    // Ended by the TERM, not by the KILL after the 30 s grace.
    CHECK(took < absl::Seconds(20));
    const auto outcome = env.WaitOutcome(id);
    CHECK(outcome.reason() == pb::WAIT_REASON_SIGNAL);
    CHECK(outcome.signal() == "SIGTERM");
  }
  {
    // The workload's own exit code passes through.
    const auto id = env.Create("init", 3, env.Shell("exit 3"));
    env.Start(id);
    const auto outcome = env.WaitOutcome(id);
    CHECK(outcome.exit_code() == 3);
    CHECK(outcome.reason() == pb::WAIT_REASON_EXITED);
  }
}

TEST_CASE("init process: orphans are reaped with one and left as zombies without", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  SECTION("without an init a zombie stays (the check can fail)") {
    OciEnv env;
    const auto id = env.Create("zombie", 1, env.Shell(kZombieMaker));
    env.Start(id);
    const pid_t init = static_cast<pid_t>(PidOf(env, id));
    CHECK(WaitFor([&] { return ZombiesUnder(init) > 0; }, absl::Seconds(10),
                  absl::Milliseconds(50)));
  }
  SECTION("with an init none stays") {
    if (!HaveTini()) return;
    OciEnv env({"--init-process"});
    const auto id = env.Create("zombie", 2, env.Shell(kZombieMaker));
    env.Start(id);
    const pid_t init = static_cast<pid_t>(PidOf(env, id));
    // The orphan has exited well within this; its zombie would stay.
    ::usleep(1'500'000);
    CHECK(ZombiesUnder(init) == 0);
    // And the workload is still the init's child, alive.
    CHECK(env.State(id).phase() == pb::CONTAINER_PHASE_RUNNING);
  }
}

TEST_CASE("init process: wanted but unusable fails create with FAILED_PRECONDITION", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  // A dynamically linked init (the host's dash) cannot run in an arbitrary image.
  OciEnv env({"--init-process", "--init-path", "/bin/sh"});
  pb::CreateContainerRequest req;
  req.mutable_id()->set_service("noinit");
  req.mutable_id()->set_replica(1);
  *req.mutable_spec() = Sleep(env);
  pb::CreateContainerResponse resp;
  auto s = env.stub().CreateContainer(Ctx(absl::Seconds(60)).get(), req, &resp);
  CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(absl::StrContains(s.error_message(), "apt install tini"));
  CHECK(absl::StrContains(s.error_message(), "dynamically linked"));
}
