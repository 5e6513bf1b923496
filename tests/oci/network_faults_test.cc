// Networking when things go wrong: broken network configs fail CreateContainer with
// the file and plugin named and nothing left allocated, and a long run of container
// rounds with the agent killed in between leaks no address, veth, rule or namespace.
#include <catch2/catch.hpp>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/fs_util.h"
#include "oci_env.h"
#include "support/test_netns.h"
#include "support/test_support.h"

using namespace zlayer::testing;

bool CanRunNetworkTests();  // network_test.cc

namespace {

grpc::Status TryCreate(OciEnv& env, const std::string& service, const pb::ServiceSpec& spec) {
  pb::CreateContainerRequest request;
  request.mutable_id()->set_service(service);
  request.mutable_id()->set_replica(1);
  *request.mutable_spec() = spec;
  pb::CreateContainerResponse response;
  return env.stub().CreateContainer(Ctx(absl::Seconds(60)).get(), request, &response);
}

void Kill(OciEnv& env, const pb::ContainerId& id) {
  pb::KillContainerRequest request;
  *request.mutable_id() = id;
  pb::KillContainerResponse response;
  (void)env.stub().KillContainer(Ctx().get(), request, &response);
}

void WriteConfig(const std::string& path, const std::string& text) {
  REQUIRE(zlayer::base::WriteFileAtomic(path, text, 0644).ok());
}

}  // namespace

TEST_CASE("broken network configs fail CreateContainer, naming the file and the plugin",
          "[root][oci][network]") {
  if (!CanRunNetworkTests()) return;
  TestNetns netns;
  auto dir = MakeTempDir("zt-cni-");
  const std::string cni_dir = dir.path() + "/net.d";
  std::filesystem::create_directories(cni_dir);
  // 10-: the default network, a /30 that holds one container besides its gateway.
  WriteConfig(cni_dir + "/10-small.conflist", R"({"cniVersion": "1.0.0", "name": "small",
    "plugins": [{"type": "bridge", "bridge": "zts0", "isGateway": true,
                 "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.78.0.0/30"}]],
                          "dataDir": ")" + dir.path() +
                                                  R"(/leases"}},
                {"type": "portmap", "capabilities": {"portMappings": true}}]})");
  WriteConfig(cni_dir + "/20-missing.conflist", R"({"cniVersion": "1.0.0", "name": "missing",
    "plugins": [{"type": "no-such-plugin"}]})");
  WriteConfig(cni_dir + "/30-broken.conflist", R"({"cniVersion": "1.0.0", "name": )");
  OciEnv env(
      {"--config", NetworkAgentConfig(dir.path(), "10.79.0.0/24", cni_dir), "--network", "bridge"},
      netns.path());

  auto spec = env.Shell("exec sleep 300");
  // Bad JSON: a network that could be in the broken file names it.
  spec.set_network("elsewhere");
  auto status = TryCreate(env, "bad-json", spec);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(absl::StrContains(status.error_message(), "30-broken.conflist"));
  CHECK(absl::StrContains(status.error_message(), "elsewhere"));

  spec.set_network("missing");
  status = TryCreate(env, "no-plugin", spec);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(absl::StrContains(status.error_message(), "no-such-plugin"));
  CHECK(absl::StrContains(status.error_message(), "20-missing.conflist"));

  // The first container takes the only address; the second finds the range used up.
  spec.clear_network();
  const auto first = env.Create("fits", 1, spec);
  env.Start(first);
  CHECK(absl::StartsWith(env.Inspect(first).ipv4(), "10.78.0."));
  status = TryCreate(env, "overflow", spec);
  CHECK(status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  INFO(status.error_message());
  CHECK(absl::StrContains(status.error_message(), "no IP addresses available"));
  CHECK(absl::StrContains(status.error_message(), "10-small.conflist"));

  // Nothing of the failed creates stays: one lease, one veth, one namespace.
  CHECK(CountLeases(dir.path() + "/leases") == 1);
  CHECK(netns.CountVethsSettled(1) == 1);
  CHECK(CountFiles(env.root() + "/run/netns") == 1);
  CHECK(CountFiles(env.root() + "/run/cni/attachments") == 1);
  env.Remove(first);
  CHECK(CountLeases(dir.path() + "/leases") == 0);
  CHECK(netns.CountVethsSettled() == 0);
  CHECK(CountFiles(env.root() + "/run/netns") == 0);
}

TEST_CASE("200 container rounds with the agent killed 10 times leak nothing",
          "[root][oci][network][leaks]") {
  if (!CanRunNetworkTests()) return;
  TestNetns netns;
  auto dir = MakeTempDir("zt-netcfg-");
  OciEnv env({"--config", NetworkAgentConfig(dir.path(), "10.76.0.0/24"), "--network", "bridge"},
             netns.path());
  const std::string leases = env.root() + "/run/cni/networks";
  constexpr int kRounds = 200;
  constexpr int kCrashEvery = kRounds / 10;
  int crashes = 0;
  for (int round = 0; round < kRounds; ++round) {
    auto spec = env.Shell("exec sleep 300");
    auto* endpoint = spec.add_endpoints();
    endpoint->set_port(19000);
    endpoint->set_target_port(80);
    endpoint->set_protocol(pb::ENDPOINT_PROTOCOL_TCP);
    const auto id = env.Create("round", static_cast<uint32_t>(round + 1), spec);
    env.Start(id);
    if (round == 0) {
      // The counters see a live container's share, so zero at the end means released.
      CHECK(CountLeases(leases) == 1);
      CHECK(netns.CountVeths() == 1);
      CHECK(netns.CountContainerRules() > 0);
      CHECK(CountFiles(env.root() + "/run/netns") == 1);
    }
    if (round % kCrashEvery == kCrashEvery - 1) {
      // A crash with a container running: the next agent re-adopts its network.
      env.RestartAgent(/*crash=*/true);
      ++crashes;
      REQUIRE(env.Inspect(id).has_ipv4());
    }
    Kill(env, id);
    env.Remove(id);
  }
  const int leftover_leases = CountLeases(leases);
  const int leftover_veths = netns.CountVethsSettled();
  const int leftover_rules = netns.CountContainerRules();
  const int leftover_netns = CountFiles(env.root() + "/run/netns");
  const int leftover_journal = CountFiles(env.root() + "/run/cni/attachments");
  std::printf(
      "network leak check: rounds=%d agent_kills=%d leases=%d veths=%d iptables_rules=%d "
      "netns_files=%d journal_entries=%d\n",
      kRounds, crashes, leftover_leases, leftover_veths, leftover_rules, leftover_netns,
      leftover_journal);
  CHECK(crashes == 10);
  CHECK(leftover_leases == 0);
  CHECK(leftover_veths == 0);
  CHECK(leftover_rules == 0);
  CHECK(leftover_netns == 0);
  CHECK(leftover_journal == 0);
}
