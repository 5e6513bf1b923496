// Health checks run by the OCI backend: command, TCP and HTTP, seen through inspect.
#include <catch2/catch.hpp>

#include "oci_env.h"
#include "support/test_support.h"

using namespace zlayer::testing;
namespace pb = zlayer::agent::v1;

namespace {

pb::HealthDetail Health(OciEnv& env, const pb::ContainerId& id) {
  const pb::ContainerInfo info = env.Inspect(id);
  REQUIRE(info.has_health());
  return info.health();
}

bool AwaitHealth(OciEnv& env, const pb::ContainerId& id, const std::string& status) {
  return WaitFor([&] { return Health(env, id).status() == status; }, absl::Seconds(20),
                 absl::Milliseconds(50));
}

void Fast(pb::HealthSpec* h) {
  h->mutable_interval()->set_nanos(150'000'000);
  h->mutable_timeout()->set_seconds(2);
  h->set_retries(2);
}

}  // namespace

TEST_CASE("health: a command check goes unhealthy and recovers", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  auto spec = env.Shell("sleep 600");
  auto* h = spec.mutable_health();
  Fast(h);
  h->mutable_command()->add_command("test");
  h->mutable_command()->add_command("-e");
  h->mutable_command()->add_command("/tmp/healthy");
  const auto id = env.Create("hc", 1, spec);
  env.Start(id);
  CHECK(Health(env, id).status() == "starting");
  REQUIRE(AwaitHealth(env, id, "unhealthy"));
  CHECK(Health(env, id).failing_streak() >= 2);
  env.Exec(id, {"touch", "/tmp/healthy"});
  REQUIRE(AwaitHealth(env, id, "healthy"));
  CHECK(Health(env, id).failing_streak() == 0);
}

TEST_CASE("health: TCP and HTTP checks run inside the container's network", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  // busybox httpd on 8080 listens only inside the container's own namespace.
  SECTION("tcp: open port is healthy") {
    auto spec = env.Shell("mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www");
    auto* h = spec.mutable_health();
    Fast(h);
    h->mutable_tcp()->set_port(8080);
    const auto id = env.Create("tcp", 1, spec);
    env.Start(id);
    REQUIRE(AwaitHealth(env, id, "healthy"));
  }
  SECTION("tcp: closed port is unhealthy, with the reason") {
    auto spec = env.Shell("sleep 600");
    auto* h = spec.mutable_health();
    Fast(h);
    h->mutable_tcp()->set_port(9);
    const auto id = env.Create("tcp", 2, spec);
    env.Start(id);
    REQUIRE(AwaitHealth(env, id, "unhealthy"));
    CHECK(Health(env, id).last_output().find("refused") != std::string::npos);
  }
  SECTION("http: 200 is healthy, 404 is not") {
    auto spec = env.Shell("mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www");
    auto* h = spec.mutable_health();
    Fast(h);
    h->mutable_http()->set_url("http://localhost:8080/index.html");
    const auto id = env.Create("http", 1, spec);
    env.Start(id);
    REQUIRE(AwaitHealth(env, id, "healthy"));
    CHECK(Health(env, id).last_output().find("HTTP 200") != std::string::npos);

    auto missing = env.Shell("mkdir -p /www && exec httpd -f -p 8080 -h /www");
    auto* m = missing.mutable_health();
    Fast(m);
    m->mutable_http()->set_url("http://localhost:8080/missing");
    const auto id2 = env.Create("http", 2, missing);
    env.Start(id2);
    REQUIRE(AwaitHealth(env, id2, "unhealthy"));
    CHECK(Health(env, id2).last_output().find("HTTP 404") != std::string::npos);
  }
  SECTION("https cannot be checked and is refused at create") {
    auto spec = env.Shell("sleep 1");
    spec.mutable_health()->mutable_http()->set_url("https://localhost/");
    pb::CreateContainerRequest req;
    req.mutable_id()->set_service("https");
    req.mutable_id()->set_replica(1);
    *req.mutable_spec() = spec;
    pb::CreateContainerResponse resp;
    CHECK(env.stub().CreateContainer(Ctx().get(), req, &resp).error_code() ==
          grpc::StatusCode::INVALID_ARGUMENT);
  }
}
