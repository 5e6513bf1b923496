// Init actions (spec.init) on the OCI backend, end to end through the API: waits
// probed from the container's network (the host's, and a bridge namespace), run
// steps as short-lived containers of the same rootfs, and the failures they cause.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/unique_fd.h"
#include "cgroups/layout.h"
#include "oci_env.h"
#include "support/test_netns.h"
#include "support/test_support.h"

using namespace zlayer::testing;
namespace pb = zlayer::agent::v1;

namespace {

bool IsCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

pb::InitAction WaitTcp(const std::string& name, uint32_t port, int timeout_s, uint32_t retries) {
  pb::InitAction a;
  a.set_name(name);
  a.mutable_wait_tcp()->set_host("127.0.0.1");
  a.mutable_wait_tcp()->set_port(port);
  a.mutable_timeout()->set_seconds(timeout_s);
  a.set_retries(retries);
  return a;
}

pb::InitAction Run(const std::string& name, const std::string& script, int timeout_s = 20) {
  pb::InitAction a;
  a.set_name(name);
  a.mutable_run()->add_command("/bin/sh");
  a.mutable_run()->add_command("-c");
  a.mutable_run()->add_command(script);
  a.mutable_timeout()->set_seconds(timeout_s);
  a.set_retries(0);
  return a;
}

grpc::Status StartRpc(OciEnv& env, const pb::ContainerId& id) {
  pb::StartContainerRequest req;
  *req.mutable_id() = id;
  pb::StartContainerResponse resp;
  return env.stub().StartContainer(Ctx(absl::Seconds(90)).get(), req, &resp);
}

grpc::Status CreateRpc(OciEnv& env, const std::string& service, pb::ServiceSpec spec) {
  pb::CreateContainerRequest req;
  req.mutable_id()->set_service(service);
  req.mutable_id()->set_replica(1);
  *req.mutable_spec() = std::move(spec);
  pb::CreateContainerResponse resp;
  return env.stub().CreateContainer(Ctx(absl::Seconds(60)).get(), req, &resp);
}

std::string LogText(OciEnv& env, const pb::ContainerId& id) {
  std::string text;
  for (const auto& e : env.Logs(id)) absl::StrAppend(&text, e.message(), "\n");
  return text;
}

std::string ContainerDir(OciEnv& env, const pb::ContainerId& id) {
  return absl::StrCat(env.root(), "/data/containers/", id.service(), "-rep-", id.replica());
}

// A TCP socket bound to 127.0.0.1 but not listening: connects are refused until
// Listen(), and no other process can take the port meanwhile.
class LateListener {
 public:
  LateListener() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    REQUIRE(fd_);
    struct sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
  }
  uint32_t port() const { return port_; }
  void Listen() { REQUIRE(::listen(fd_.get(), 16) == 0); }

 private:
  zlayer::base::UniqueFd fd_;
  uint32_t port_ = 0;
};

}  // namespace

TEST_CASE("init: a wait_tcp step holds the container INITIALIZING until the port listens",
          "[root][oci][init]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  LateListener listener;
  auto spec = env.Shell("echo main-ran");
  spec.set_network("host");  // the test's own 127.0.0.1 is the container's
  *spec.add_init() = WaitTcp("db", listener.port(), 20, 0);
  const auto id = env.Create("waiter", 1, spec);

  grpc::Status started;
  std::thread start([&] { started = StartRpc(env, id); });
  // The step probes for a second and more: Start has not returned meanwhile.
  ::usleep(1'200'000);
  CHECK(env.State(id).phase() == pb::CONTAINER_PHASE_INITIALIZING);
  listener.Listen();
  start.join();  // bounded by the RPC's deadline
  INFO(started.error_message() << "\n" << env.agent().Log());
  REQUIRE(started.ok());
  const auto outcome = env.WaitOutcome(id);
  CHECK(outcome.reason() == pb::WAIT_REASON_EXITED);
  CHECK(outcome.exit_code() == 0);
  const std::string logs = LogText(env, id);
  INFO(logs);
  const size_t marker =
      logs.find(absl::StrCat("[zlayer] init step 'db' (wait_tcp 127.0.0.1:", listener.port(), ")"));
  REQUIRE(marker != std::string::npos);
  CHECK(logs.find("main-ran") > marker);
  CHECK(::access((ContainerDir(env, id) + "/init").c_str(), F_OK) != 0);
}

TEST_CASE("init: a wait that never succeeds fails the container, naming the step",
          "[root][oci][init]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  LateListener closed;  // never listens
  auto spec = env.Shell("echo main-ran");
  spec.set_network("host");
  *spec.add_init() = WaitTcp("db", closed.port(), 1, 1);
  const auto id = env.Create("never", 1, spec);

  const absl::Time began = absl::Now();
  const grpc::Status started = StartRpc(env, id);
  const absl::Duration took = absl::Now() - began;
  const std::string why =
      absl::StrCat("init step 'db' failed after 2 attempts: connect 127.0.0.1:", closed.port(),
                   ": connection refused (timeout 1s)");
  INFO(started.error_message());
  CHECK(started.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(absl::StrContains(started.error_message(), why));
  // Two attempts of 1 s and the pause between them.
  CHECK(took >= absl::Seconds(3));
  CHECK(took < absl::Seconds(20));

  const auto state = env.State(id);
  CHECK(state.phase() == pb::CONTAINER_PHASE_FAILED);
  CHECK(absl::StrContains(state.reason(), why));
  const auto outcome = env.WaitOutcome(id, absl::Seconds(10));
  CHECK(outcome.reason() == pb::WAIT_REASON_RUNTIME_ERROR);
  CHECK(absl::StrContains(outcome.message(), "init step 'db'"));
  const std::string logs = LogText(env, id);
  CHECK(absl::StrContains(logs, "[zlayer] " + why));
  CHECK_FALSE(absl::StrContains(logs, "main-ran"));
}

TEST_CASE("init: a wait step of a container without a network fails at once",
          "[root][oci][init]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;  // the agent's default network is none
  auto spec = env.Shell("echo main-ran");
  auto step = WaitTcp("", 5432, 20, 3);
  *spec.add_init() = step;
  const auto id = env.Create("nonet", 1, spec);
  const absl::Time began = absl::Now();
  const grpc::Status started = StartRpc(env, id);
  INFO(started.error_message());
  CHECK(started.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(absl::StrContains(started.error_message(),
                          "init step 'init[0]' failed: the container's network is none"));
  CHECK(absl::Now() - began < absl::Seconds(10));
  CHECK(env.State(id).phase() == pb::CONTAINER_PHASE_FAILED);
}

TEST_CASE("init: a run step that exits 2 fails the container", "[root][oci][init]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  auto spec = env.Shell("echo main-ran");
  *spec.add_init() = Run("migrate", "echo migrating; exit 2");
  const auto id = env.Create("migr", 1, spec);
  const grpc::Status started = StartRpc(env, id);
  INFO(started.error_message() << "\n" << env.agent().Log());
  CHECK(started.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(absl::StrContains(started.error_message(), "init step 'migrate' exited 2"));
  const auto state = env.State(id);
  CHECK(state.phase() == pb::CONTAINER_PHASE_FAILED);
  CHECK(absl::StrContains(state.reason(), "init step 'migrate' exited 2"));
  const auto outcome = env.WaitOutcome(id, absl::Seconds(10));
  CHECK(outcome.reason() == pb::WAIT_REASON_RUNTIME_ERROR);
  CHECK(absl::StrContains(outcome.message(), "init step 'migrate' exited 2"));
  const std::string logs = LogText(env, id);
  INFO(logs);
  CHECK(absl::StrContains(logs, "migrating"));
  CHECK_FALSE(absl::StrContains(logs, "main-ran"));
  // The step's runtime container, cgroup and directory are gone.
  CHECK(::access((ContainerDir(env, id) + "/init").c_str(), F_OK) != 0);
  CHECK(::access(absl::StrCat(env.root(), "/run/runtime/migr-rep-1-init-0").c_str(), F_OK) != 0);
  auto layout = zlayer::cgroups::HostLayout::Detect();
  REQUIRE(layout.ok());
  for (const auto& m : layout->mounts()) {
    const std::string cgroup =
        absl::StrCat(m.mount_point, "/zlayer-test-", ::getpid(), "/migr-rep-1-init");
    INFO(cgroup);
    CHECK(::access(cgroup.c_str(), F_OK) != 0);
  }

  // Started again, the step runs again (and fails again).
  const grpc::Status again = StartRpc(env, id);
  CHECK(again.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_CASE("init: run steps prepare the rootfs for the main process, their output logged",
          "[root][oci][init]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  auto spec = env.Shell("cat /srv/seed /srv/second");
  *spec.add_init() = Run("seed", "echo step-output; echo seeded-by-init > /srv/seed");
  pb::InitAction unnamed = Run("", "echo second-step >&2; echo second > /srv/second");
  *spec.add_init() = unnamed;
  const auto id = env.Create("seeded", 1, spec);
  env.Start(id);
  const auto outcome = env.WaitOutcome(id);
  CHECK(outcome.reason() == pb::WAIT_REASON_EXITED);
  CHECK(outcome.exit_code() == 0);
  const std::string logs = LogText(env, id);
  INFO(logs);
  const size_t first = logs.find("[zlayer] init step 'seed' (run /bin/sh -c echo step-output");
  const size_t out = logs.find("step-output\n");
  const size_t second = logs.find("[zlayer] init step 'init[1]' (run /bin/sh -c");
  const size_t err = logs.find("second-step\n");
  const size_t main_out = logs.find("seeded-by-init\nsecond\n");
  REQUIRE(first != std::string::npos);
  REQUIRE(out != std::string::npos);
  REQUIRE(second != std::string::npos);
  REQUIRE(err != std::string::npos);
  REQUIRE(main_out != std::string::npos);
  CHECK(first < out);
  CHECK(out < second);
  CHECK(second < err);
  CHECK(err < main_out);
}

TEST_CASE("init: a run step over its timeout is killed", "[root][oci][init]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  auto spec = env.Shell("echo main-ran");
  *spec.add_init() = Run("slow", "exec sleep 60", 1);
  const auto id = env.Create("slow", 1, spec);
  const absl::Time began = absl::Now();
  const grpc::Status started = StartRpc(env, id);
  INFO(started.error_message() << "\n" << env.agent().Log());
  CHECK(started.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(absl::StrContains(started.error_message(),
                          "init step 'slow' timed out after 1s (killed)"));
  CHECK(absl::Now() - began < absl::Seconds(20));
  CHECK(::access(absl::StrCat(env.root(), "/run/runtime/slow-rep-1-init-0").c_str(), F_OK) != 0);
}

TEST_CASE("init: a run step whose command is missing fails with the runtime's reason",
          "[root][oci][init]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  auto spec = env.Shell("echo main-ran");
  pb::InitAction step;
  step.set_name("ghost");
  step.mutable_run()->add_command("/no/such/tool");
  *spec.add_init() = step;
  const auto id = env.Create("ghost", 1, spec);
  const grpc::Status started = StartRpc(env, id);
  INFO(started.error_message());
  CHECK(started.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(absl::StrContains(started.error_message(), "init step 'ghost' could not start: "));
  CHECK(absl::StrContains(started.error_message(), "/no/such/tool"));
  CHECK(::access((ContainerDir(env, id) + "/init").c_str(), F_OK) != 0);
}

TEST_CASE("init: steps the backend cannot run are refused at create", "[root][oci][init]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  SECTION("https") {
    auto spec = env.Shell("true");
    pb::InitAction a;
    a.mutable_wait_http()->set_url("https://127.0.0.1/");
    *spec.add_init() = a;
    const auto s = CreateRpc(env, "https", spec);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(absl::StrContains(s.error_message(), "spec.init[0].wait_http.url"));
  }
  SECTION("a host name") {
    auto spec = env.Shell("true");
    auto a = WaitTcp("db", 5432, 1, 0);
    a.mutable_wait_tcp()->set_host("db.example");
    *spec.add_init() = a;
    const auto s = CreateRpc(env, "named", spec);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(absl::StrContains(s.error_message(), "spec.init[0].wait_tcp.host"));
  }
  SECTION("a name used twice") {
    auto spec = env.Shell("true");
    *spec.add_init() = Run("twice", "true");
    *spec.add_init() = Run("twice", "true");
    const auto s = CreateRpc(env, "twice", spec);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(absl::StrContains(s.error_message(), "spec.init[1].name 'twice'"));
  }
}

// The probe enters the container's namespace by its path (it exists before any
// container process): a wait_http for a peer on the bridge.
TEST_CASE("init: a wait_http step reaches a peer on the bridge from the container's namespace",
          "[root][oci][init][network]") {
  SKIP_UNLESS_CONTAINERS();
  for (const char* tool : {"/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/lib/cni/portmap",
                           "/usr/lib/cni/loopback", "/usr/sbin/iptables", "/usr/bin/nsenter"}) {
    if (::access(tool, X_OK) != 0) {
      if (IsCi()) FAIL("init network test needs " << tool);
      WARN("skipped: " << tool << " is missing");
      return;
    }
  }
  TestNetns netns;
  auto config_dir = MakeTempDir("zt-initcfg-");
  OciEnv env({"--config", NetworkAgentConfig(config_dir.path(), "10.79.0.0/24"), "--network",
              "bridge"},
             netns.path());
  const auto web = env.Create(
      "web", 1,
      env.Shell("sleep 1; mkdir -p /srv/www && echo up > /srv/www/ready && "
                "exec httpd -f -p 8080 -h /srv/www"));
  env.Start(web);
  const auto info = env.Inspect(web);
  REQUIRE(info.has_ipv4());

  auto spec = env.Shell("echo app-ran");
  pb::InitAction step;
  step.set_name("web-ready");
  step.mutable_wait_http()->set_url(absl::StrCat("http://", info.ipv4(), ":8080/ready"));
  step.mutable_timeout()->set_seconds(20);
  *spec.add_init() = step;
  const auto app = env.Create("app", 1, spec);
  env.Start(app);
  CHECK(env.WaitOutcome(app).exit_code() == 0);
  CHECK(absl::StrContains(LogText(env, app), "app-ran"));

  // And one that is not there: a 404 until the timeout.
  auto missing = env.Shell("echo never");
  step.set_name("missing");
  step.mutable_wait_http()->set_url(absl::StrCat("http://", info.ipv4(), ":8080/nothing"));
  step.mutable_timeout()->set_seconds(1);
  *missing.add_init() = step;
  const auto lost = env.Create("lost", 1, missing);
  const grpc::Status started = StartRpc(env, lost);
  INFO(started.error_message());
  CHECK(started.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(absl::StrContains(started.error_message(), "init step 'missing' failed: GET http://"));
  CHECK(absl::StrContains(started.error_message(), "HTTP 404 (want 2xx) (timeout 1s)"));
}
