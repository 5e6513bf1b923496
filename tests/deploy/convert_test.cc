// proto/convert/deployment.*: a parsed spec becomes the CreateContainer requests,
// and the ServiceSpec survives the trip to the wire and back unchanged.
#include <google/protobuf/util/message_differencer.h>

#include <catch2/catch.hpp>

#include "deploy/parser.h"
#include "proto/convert/convert.h"
#include "proto/convert/deployment.h"
#include "support/test_support.h"

namespace zlayer::proto {
namespace {

using google::protobuf::util::MessageDifferencer;

deploy::DeploymentSpec Load(const std::string& example) {
  auto spec = deploy::LoadDeploymentFile(testing::SourcePath("deploy/examples/" + example));
  INFO(spec.status().ToString());
  REQUIRE(spec.ok());
  return *std::move(spec);
}

TEST_CASE("every example's services round-trip through the proto unchanged", "[unit][deploy]") {
  for (const char* example : {"minimal.yaml", "everything.yaml", "web-and-worker.yaml",
                              "busybox-job.yaml", "supervised.yaml"}) {
    for (const auto& [name, service] : Load(example).services) {
      INFO(example << " " << name);
      const pb::ServiceSpec wire = ToProto(service);
      // Across the wire: serialised bytes parse back to the same message.
      pb::ServiceSpec received;
      REQUIRE(received.ParseFromString(wire.SerializeAsString()));
      auto back = FromProto(received);
      REQUIRE(back.ok());
      std::string diff;
      MessageDifferencer differ;
      differ.ReportDifferencesToString(&diff);
      CHECK(differ.Compare(wire, ToProto(*back)));
      INFO(diff);
      CHECK(back->replicas == service.replicas);
      CHECK(back->stop_grace_period == service.stop_grace_period);
      CHECK(back->health.has_value() == service.health.has_value());
      CHECK(back->resources.cpu == service.resources.cpu);
      CHECK(back->image.auth.has_value() == service.image.auth.has_value());
    }
  }
}

TEST_CASE("the proto carries every field of the YAML", "[unit][deploy]") {
  const deploy::DeploymentSpec spec = Load("everything.yaml");
  const pb::ServiceSpec api = ToProto(spec.services.at("api"));
  CHECK(api.rtype() == pb::SERVICE_TYPE_SERVICE);
  CHECK(api.image().name() == "registry.example.com/team/api:1.0");
  CHECK(api.image().pull_policy() == pb::PULL_POLICY_ALWAYS);
  CHECK(api.image().auth().username() == "deploy-bot");
  CHECK(api.image().auth().password() == "not-a-real-password");
  REQUIRE(api.command().entrypoint_size() == 1);
  CHECK(api.command().args_size() == 3);
  CHECK(api.command().workdir() == "/srv/api");
  CHECK(api.env().at("RUST_LOG") == "debug");
  CHECK(api.env().at("EMPTY").empty());
  CHECK(api.resources().has_cpu());
  CHECK(api.resources().cpu() == 1.5);
  CHECK(api.resources().memory_bytes() == 1ull << 30);
  CHECK(api.resources().pids_limit() == 512);
  REQUIRE(api.endpoints_size() == 3);
  CHECK(api.endpoints(0).protocol() == pb::ENDPOINT_PROTOCOL_TCP);
  CHECK(api.endpoints(1).protocol() == pb::ENDPOINT_PROTOCOL_HTTP);
  CHECK(api.endpoints(1).target_port() == 9101);
  CHECK(api.endpoints(2).protocol() == pb::ENDPOINT_PROTOCOL_UDP);
  CHECK(api.scale().replicas() == 3);
  REQUIRE(api.storage_size() == 3);
  CHECK(api.storage(0).type() == pb::STORAGE_TYPE_BIND);
  CHECK(api.storage(0).readonly());
  CHECK(api.storage(1).type() == pb::STORAGE_TYPE_NAMED);
  CHECK(api.storage(1).source() == "api-data");
  CHECK(api.storage(2).type() == pb::STORAGE_TYPE_TMPFS);
  CHECK(api.storage(2).size_bytes() == 64ull << 20);
  CHECK(api.user() == "1000:1000");
  CHECK(api.hostname() == "api");
  CHECK(api.capabilities(0) == "CAP_NET_BIND_SERVICE");
  CHECK(api.cap_drop(0) == "ALL");
  CHECK(api.read_only_root_fs());
  CHECK_FALSE(api.privileged());
  CHECK(api.stop_signal() == "SIGINT");
  CHECK(api.stop_grace_period().seconds() == 90);
  CHECK(api.labels().at("app.kubernetes.io/name") == "api");
  CHECK(api.health().start_grace().seconds() == 5);
  CHECK(api.health().interval().seconds() == 10);
  CHECK(api.health().timeout().seconds() == 1);
  CHECK(api.health().retries() == 5);
  CHECK(api.health().tcp().port() == 9000);

  const pb::ServiceSpec migrate = ToProto(spec.services.at("migrate"));
  CHECK(migrate.rtype() == pb::SERVICE_TYPE_JOB);
  CHECK(migrate.image().pull_policy() == pb::PULL_POLICY_NEVER);
  CHECK_FALSE(migrate.has_health());

  const pb::ServiceSpec web = ToProto(Load("web-and-worker.yaml").services.at("web"));
  CHECK(web.health().http().url() == "http://localhost:8080/healthz");
  CHECK(web.health().http().expect_status() == 200);

  const deploy::DeploymentSpec supervised = Load("supervised.yaml");
  const pb::ServiceSpec sup = ToProto(supervised.services.at("api"));
  CHECK(sup.restart().policy() == "on-failure:3");
  CHECK(sup.restart().backoff_base().seconds() == 1);
  CHECK(sup.restart().backoff_max().seconds() == 300);
  CHECK(sup.restart().reset_after().seconds() == 600);
  REQUIRE(sup.init_size() == 3);
  CHECK(sup.init(0).name() == "db");
  CHECK(sup.init(0).wait_tcp().host() == "10.0.0.5");
  CHECK(sup.init(0).wait_tcp().port() == 5432);
  CHECK(sup.init(0).timeout().seconds() == 30);
  CHECK(sup.init(0).retries() == 2);
  CHECK(sup.init(1).wait_http().expect_status() == 200);
  CHECK_FALSE(sup.init(1).has_timeout());
  CHECK(sup.init(2).run().command_size() == 3);
  CHECK(sup.init_process());
  CHECK(sup.health().restart_on_unhealthy());
  const pb::ServiceSpec worker = ToProto(supervised.services.at("worker"));
  CHECK(worker.restart().policy() == "always");
  CHECK_FALSE(worker.restart().has_backoff_base());
  CHECK_FALSE(worker.has_init_process());
  CHECK_FALSE(migrate.has_restart());  // the default policy is left out
}

TEST_CASE("a deployment becomes one CreateContainer request per replica", "[unit][deploy]") {
  const deploy::DeploymentSpec spec = Load("everything.yaml");
  const auto requests = ToCreateRequests(spec);
  REQUIRE(requests.size() == 4);
  const std::pair<const char*, uint32_t> ids[] = {{"api", 1}, {"api", 2}, {"api", 3}, {"migrate", 1}};
  for (size_t i = 0; i < requests.size(); ++i) {
    INFO(i);
    CHECK(requests[i].id().service() == ids[i].first);
    CHECK(requests[i].id().replica() == ids[i].second);
    CHECK(requests[i].deployment() == "kitchen-sink");
    CHECK(MessageDifferencer::Equals(requests[i].spec(),
                                     ToProto(spec.services.at(ids[i].first))));
  }

  deploy::DeploymentSpec none = spec;
  for (auto& [name, service] : none.services) service.replicas = 0;
  CHECK(ToCreateRequests(none).empty());
}

TEST_CASE("WithoutCredentials drops the registry auth and nothing else", "[unit][deploy]") {
  const pb::ServiceSpec api = ToProto(Load("everything.yaml").services.at("api"));
  const pb::ServiceSpec stripped = WithoutCredentials(api);
  CHECK_FALSE(stripped.image().has_auth());
  pb::ServiceSpec expected = api;
  expected.mutable_image()->clear_auth();
  CHECK(MessageDifferencer::Equals(stripped, expected));
}

}  // namespace
}  // namespace zlayer::proto
