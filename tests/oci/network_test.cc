// Container networking end to end: the real CNI plugins (bridge, host-local,
// portmap, loopback), real namespaces and real traffic, all inside a network
// namespace this test makes; the agent runs in it too.
#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "oci_env.h"
#include "support/test_netns.h"
#include "support/test_support.h"

using namespace zlayer::testing;

namespace {

bool IsCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

}  // namespace

// Shared with network_faults_test.cc.
bool CanRunNetworkTests() {
  if (!CanRunContainers()) return false;
  for (const char* tool : {"/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/lib/cni/portmap",
                           "/usr/lib/cni/loopback", "/usr/sbin/iptables", "/usr/bin/nsenter"}) {
    if (::access(tool, X_OK) != 0) {
      if (IsCi())
        FAIL("networking tests need " << tool << " (containernetworking-plugins, iptables)");
      WARN("skipped: " << tool << " is missing");
      return false;
    }
  }
  return true;
}

namespace {

// A busybox httpd serving `body` on `port`.
pb::ServiceSpec Web(OciEnv& env, int port, const std::string& body) {
  return env.Shell(absl::StrCat("mkdir -p /srv/www && echo ", body,
                                " > /srv/www/index.html && exec httpd -f -p ", port,
                                " -h /srv/www"));
}

void AddEndpoint(pb::ServiceSpec* spec, uint32_t port, uint32_t target_port) {
  auto* endpoint = spec->add_endpoints();
  endpoint->set_name("http");
  endpoint->set_protocol(pb::ENDPOINT_PROTOCOL_HTTP);
  endpoint->set_port(port);
  endpoint->set_target_port(target_port);
}

std::string ExecOut(OciEnv& env, const pb::ContainerId& id, const std::vector<std::string>& cmd) {
  auto response = env.Exec(id, cmd);
  INFO(response.stderr());
  return response.exit_code() == 0 ? response.stdout() : "";
}

// An HTTP GET from inside a container to "HOST PORT". busybox nc rather than its
// wget, which crashes in the static Debian build; nc resolves through /etc/hosts.
std::string HttpGet(OciEnv& env, const pb::ContainerId& id, const std::string& target) {
  return ExecOut(env, id, {"sh", "-c", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 " + target});
}

// Retries a probe while a server inside a fresh container comes up.
template <typename Probe>
std::string Eventually(Probe probe) {
  std::string out;
  for (int attempt = 0; attempt < 50 && out.empty(); ++attempt) {
    out = probe();
    if (out.empty()) ::usleep(100'000);
  }
  return out;
}

struct NetEnv {
  explicit NetEnv(const std::string& subnet = "10.77.0.0/24", const std::string& cni_dir = "")
      : config_dir(MakeTempDir("zt-netcfg-")),
        env({"--config", NetworkAgentConfig(config_dir.path(), subnet, cni_dir), "--network",
             "bridge"},
            netns.path()) {}
  std::string Leases() const { return env.root() + "/run/cni/networks"; }
  std::string NetnsDir() const { return env.root() + "/run/netns"; }

  TestNetns netns;
  zlayer::base::TempDir config_dir;
  OciEnv env;
};

}  // namespace

TEST_CASE("two containers on the default bridge reach each other by IP and by service name",
          "[root][oci][network]") {
  if (!CanRunNetworkTests()) return;
  NetEnv net;
  OciEnv& env = net.env;
  const auto web = env.Create("web", 1, Web(env, 8080, "hello-from-web"));
  env.Start(web);
  const auto client = env.Create("client", 1, env.Shell("exec sleep 300"));
  env.Start(client);

  const auto info = env.Inspect(web);
  REQUIRE(info.has_ipv4());
  CHECK(absl::StartsWith(info.ipv4(), "10.77.0."));
  REQUIRE(info.networks_size() == 1);
  CHECK(info.networks(0).network() == "bridge");
  CHECK(info.networks(0).ipv4() == info.ipv4());

  pb::GetContainerIpRequest ip_request;
  *ip_request.mutable_id() = web;
  pb::GetContainerIpResponse ip_response;
  REQUIRE(env.stub().GetContainerIp(Ctx().get(), ip_request, &ip_response).ok());
  CHECK(ip_response.ip() == info.ipv4());

  const std::string direct =
      Eventually([&] { return HttpGet(env, client, absl::StrCat(info.ipv4(), " 8080")); });
  CHECK(absl::StrContains(direct, "hello-from-web"));
  // The service name and the replica's name come from /etc/hosts.
  CHECK(absl::StrContains(HttpGet(env, client, "web 8080"), "hello-from-web"));
  CHECK(absl::StrContains(HttpGet(env, client, "web-rep-1 8080"), "hello-from-web"));
  const std::string hosts = ExecOut(env, client, {"cat", "/etc/hosts"});
  CHECK(absl::StrContains(hosts, absl::StrCat(info.ipv4(), "\tweb-rep-1 web")));
  CHECK(absl::StrContains(ExecOut(env, client, {"hostname"}), "client-rep-1"));
  // resolv.conf never names a loopback resolver (it would be the container's own).
  CHECK_FALSE(absl::StrContains(ExecOut(env, client, {"cat", "/etc/resolv.conf"}), "127.0.0."));

  // A removed peer leaves the others' hosts files.
  env.Remove(web);
  CHECK_FALSE(absl::StrContains(ExecOut(env, client, {"cat", "/etc/hosts"}), "web-rep-1"));
}

TEST_CASE("a published endpoint is reachable on the host's loopback and at the bridge address",
          "[root][oci][network]") {
  if (!CanRunNetworkTests()) return;
  NetEnv net;
  OciEnv& env = net.env;
  auto spec = Web(env, 8080, "published");
  AddEndpoint(&spec, 18080, 8080);
  const auto first = env.Create("web", 1, spec);
  env.Start(first);

  const auto info = env.Inspect(first);
  REQUIRE(info.ports_size() == 1);
  CHECK(info.ports(0).host_port() == 18080);
  CHECK(info.ports(0).container_port() == 8080);
  CHECK(info.ports(0).protocol() == "tcp");
  CHECK(absl::StrContains(Eventually([&] { return net.netns.Get("127.0.0.1", 18080); }),
                          "published"));
  CHECK(absl::StrContains(net.netns.Get("10.77.0.1", 18080), "published"));

  // A second replica cannot have 18080: it gets a port of its own, reported as the
  // contract's port override.
  const auto second = env.Create("web", 2, spec);
  env.Start(second);
  pb::GetContainerPortOverrideRequest override_request;
  *override_request.mutable_id() = second;
  pb::GetContainerPortOverrideResponse override_response;
  REQUIRE(
      env.stub().GetContainerPortOverride(Ctx().get(), override_request, &override_response).ok());
  REQUIRE(override_response.has_port());
  CHECK(override_response.port() != 18080);
  CHECK(env.Inspect(second).ports(0).host_port() == override_response.port());
  CHECK(absl::StrContains(
      Eventually([&] { return net.netns.Get("127.0.0.1", override_response.port()); }),
      "published"));
  *override_request.mutable_id() = first;
  override_response.Clear();
  REQUIRE(
      env.stub().GetContainerPortOverride(Ctx().get(), override_request, &override_response).ok());
  CHECK_FALSE(override_response.has_port());

  // Another service asking for the same host port is refused, naming the holder.
  pb::CreateContainerRequest other;
  other.mutable_id()->set_service("api");
  other.mutable_id()->set_replica(1);
  *other.mutable_spec() = spec;
  pb::CreateContainerResponse other_response;
  auto status = env.stub().CreateContainer(Ctx(absl::Seconds(60)).get(), other, &other_response);
  CHECK(status.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(absl::StrContains(status.error_message(), "web-rep-1"));
  CHECK(absl::StrContains(status.error_message(), "18080"));

  // Stop releases the address and the port rules; start takes them again.
  pb::StopContainerRequest stop;
  *stop.mutable_id() = first;
  pb::StopContainerResponse stopped;
  REQUIRE(env.stub().StopContainer(Ctx(absl::Seconds(30)).get(), stop, &stopped).ok());
  CHECK(net.netns.Get("127.0.0.1", 18080).empty());
  CHECK(CountLeases(net.Leases()) == 1);
  env.Start(first);
  CHECK(absl::StrContains(Eventually([&] { return net.netns.Get("127.0.0.1", 18080); }),
                          "published"));
}

TEST_CASE("network host and network none behave as named", "[root][oci][network]") {
  if (!CanRunNetworkTests()) return;
  NetEnv net;
  OciEnv& env = net.env;
  auto host_spec = Web(env, 18090, "on-the-host-network");
  host_spec.set_network("host");
  const auto host = env.Create("hostnet", 1, host_spec);
  env.Start(host);
  // Its server listens in the agent's namespace itself.
  CHECK(absl::StrContains(Eventually([&] { return net.netns.Get("127.0.0.1", 18090); }),
                          "on-the-host-network"));
  CHECK_FALSE(env.Inspect(host).has_ipv4());

  auto none_spec = env.Shell("exec sleep 300");
  none_spec.set_network("none");
  const auto none = env.Create("isolated", 1, none_spec);
  env.Start(none);
  const std::string links = ExecOut(env, none, {"ip", "-o", "link"});
  CHECK(absl::StrContains(links, "lo:"));
  CHECK_FALSE(absl::StrContains(links, "eth0"));
  CHECK_FALSE(env.Inspect(none).has_ipv4());
  CHECK(net.netns.CountVethsSettled() == 0);

  // A network that is not configured is named in the error.
  auto unknown = env.Shell("true");
  unknown.set_network("backend-net");
  pb::CreateContainerRequest request;
  request.mutable_id()->set_service("lost");
  request.mutable_id()->set_replica(1);
  *request.mutable_spec() = unknown;
  pb::CreateContainerResponse response;
  auto status = env.stub().CreateContainer(Ctx(absl::Seconds(60)).get(), request, &response);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(absl::StrContains(status.error_message(), "backend-net"));
}

TEST_CASE("a container restarted by its policy keeps its address and stays reachable",
          "[root][oci][network]") {
  if (!CanRunNetworkTests()) return;
  NetEnv net;
  OciEnv& env = net.env;
  // The first run crashes after a second; the root file system is kept across the
  // restart, so the second run (which finds /crashed) serves.
  auto spec = env.Shell(
      "if [ ! -e /crashed ]; then touch /crashed; sleep 1; exit 1; fi; "
      "mkdir -p /srv/www && echo back-again > /srv/www/index.html && "
      "exec httpd -f -p 8080 -h /srv/www");
  spec.mutable_restart()->set_policy("on-failure");
  spec.mutable_restart()->mutable_backoff_base()->set_nanos(100'000'000);
  const auto web = env.Create("phoenix", 1, spec);
  env.Start(web);
  const std::string before = env.Inspect(web).ipv4();
  REQUIRE_FALSE(before.empty());
  REQUIRE(WaitFor(
      [&] {
        const auto info = env.Inspect(web);
        return info.supervision().restart_count() == 1 &&
               info.state().phase() == pb::CONTAINER_PHASE_RUNNING;
      },
      absl::Seconds(30), absl::Milliseconds(100)));
  CHECK(env.Inspect(web).ipv4() == before);
  const auto client = env.Create("client", 1, env.Shell("exec sleep 300"));
  env.Start(client);
  CHECK(absl::StrContains(
      Eventually([&] { return HttpGet(env, client, absl::StrCat(before, " 8080")); }),
      "back-again"));
  CHECK(absl::StrContains(HttpGet(env, client, "phoenix 8080"), "back-again"));
}
