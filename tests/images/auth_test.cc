// Registry authentication against a real docker-registry: basic auth over TLS
// with a CA generated here, and the bearer-token flow with token_server.py.
#include <catch2/catch.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/fs_util.h"
#include "store_helpers.h"

namespace zlayer::images {
namespace {

using namespace zlayer::images::testing;  // NOLINT

BuiltImage Small(const std::string& content) {
  return ImageBuilder().Layer({TarEntry::File("content", content)}).Build();
}

std::string DockerConfig(const std::string& host, const std::string& user,
                         const std::string& password) {
  std::string b64;
  absl::Base64Escape(user + ":" + password, &b64);
  return absl::StrCat(R"({"auths":{")", host, R"(":{"auth":")", b64, R"("}}})");
}

TEST_CASE("basic auth over TLS with a private CA", "[integration]") {
  RegistryOptions ro;
  ro.tls = true;
  ro.user = "alice";
  ro.password = "wonder-land";
  TestRegistry reg(ro);
  const BuiltImage img = Small("tls");
  REQUIRE(PushImage(reg.pusher(), "private/app", "v1", img).ok());
  auto dir = zlayer::testing::MakeTempDir();
  const std::string ref = reg.host() + "/private/app:v1";
  images::RegistryConfig rc;
  rc.ca_file = reg.ca_file();

  SECTION("inline credentials") {
    auto store = OpenStore(dir.path() + "/s", rc);
    auto req = Req(ref);
    req.auth = core::RegistryAuth{"alice", "wonder-land"};
    auto r = store->PullImage(req, nullptr);
    REQUIRE(r.ok());
    CHECK(r->digest == img.manifest.digest);
  }
  SECTION("credentials from a Docker config.json") {
    rc.credentials_file = dir.path() + "/config.json";
    REQUIRE(base::WriteFileAtomic(rc.credentials_file,
                                  DockerConfig(reg.host(), "alice", "wonder-land"))
                .ok());
    auto store = OpenStore(dir.path() + "/s", rc);
    REQUIRE(store->PullImage(Req(ref), nullptr).ok());
    CHECK(store->Resolve(ref).ok());
  }
  SECTION("inline credentials win over the file") {
    rc.credentials_file = dir.path() + "/config.json";
    REQUIRE(base::WriteFileAtomic(rc.credentials_file,
                                  DockerConfig(reg.host(), "alice", "stale-password"))
                .ok());
    auto store = OpenStore(dir.path() + "/s", rc);
    auto req = Req(ref);
    req.auth = core::RegistryAuth{"alice", "wonder-land"};
    REQUIRE(store->PullImage(req, nullptr).ok());
  }
  SECTION("no credentials") {
    auto store = OpenStore(dir.path() + "/s", rc);
    auto r = store->PullImage(Req(ref), nullptr);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == absl::StatusCode::kPermissionDenied);
    CHECK_THAT(std::string(r.status().message()), Catch::Contains("requires credentials"));
  }
  SECTION("wrong password, which never appears in the error") {
    auto store = OpenStore(dir.path() + "/s", rc);
    auto req = Req(ref);
    req.auth = core::RegistryAuth{"alice", "not-the-password"};
    auto r = store->PullImage(req, nullptr);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == absl::StatusCode::kPermissionDenied);
    CHECK_THAT(std::string(r.status().message()),
               Catch::Contains("alice") && !Catch::Contains("not-the-password"));
  }
  SECTION("a CA we do not trust") {
    auto store = OpenStore(dir.path() + "/s");  // system CAs only
    auto req = Req(ref);
    req.auth = core::RegistryAuth{"alice", "wonder-land"};
    auto r = store->PullImage(req, nullptr);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK_THAT(std::string(r.status().message()), Catch::Contains("not trusted"));
  }
  SECTION("an insecure host skips verification") {
    images::RegistryConfig insecure;
    insecure.insecure = {reg.host()};
    auto store = OpenStore(dir.path() + "/s", insecure);
    auto req = Req(ref);
    req.auth = core::RegistryAuth{"alice", "wonder-land"};
    REQUIRE(store->PullImage(req, nullptr).ok());
  }
}

TEST_CASE("bearer tokens from a token server", "[integration]") {
  RegistryOptions ro;
  ro.token_auth = true;
  TestRegistry reg(ro);
  const BuiltImage pub = Small("public");
  const BuiltImage priv = Small("private");
  for (const auto& [repo, img] : {std::pair{"public/app", &pub}, std::pair{"private/app", &priv}}) {
    auto token = FetchToken(reg.token_realm(), TestRegistry::kTokenService,
                            absl::StrCat("repository:", repo, ":pull,push"), "pusher",
                            "push-secret");
    REQUIRE(token.ok());
    PushTarget t = reg.pusher();
    t.auth_header = "Authorization: Bearer " + *token;
    REQUIRE(PushImage(t, repo, "v1", *img).ok());
  }
  auto dir = zlayer::testing::MakeTempDir();

  SECTION("anonymous token for a public repository") {
    auto store = OpenStore(dir.path() + "/s");
    auto r = store->PullImage(Req(reg.host() + "/public/app:v1"), nullptr);
    REQUIRE(r.ok());
    CHECK(r->digest == pub.manifest.digest);
  }
  SECTION("anonymous access to a private repository is denied") {
    auto store = OpenStore(dir.path() + "/s");
    auto r = store->PullImage(Req(reg.host() + "/private/app:v1"), nullptr);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == absl::StatusCode::kPermissionDenied);
  }
  SECTION("a token for a user, from inline credentials") {
    auto store = OpenStore(dir.path() + "/s");
    auto req = Req(reg.host() + "/private/app:v1");
    req.auth = core::RegistryAuth{"reader", "read-secret"};
    auto r = store->PullImage(req, nullptr);
    REQUIRE(r.ok());
    CHECK(r->digest == priv.manifest.digest);
  }
  SECTION("a token for a user, from the credentials file") {
    images::RegistryConfig rc;
    rc.credentials_file = dir.path() + "/config.json";
    REQUIRE(base::WriteFileAtomic(rc.credentials_file,
                                  DockerConfig(reg.host(), "reader", "read-secret"))
                .ok());
    auto store = OpenStore(dir.path() + "/s", rc);
    REQUIRE(store->PullImage(Req(reg.host() + "/private/app:v1"), nullptr).ok());
  }
  SECTION("the token server refusing the credentials") {
    auto store = OpenStore(dir.path() + "/s");
    auto req = Req(reg.host() + "/private/app:v1");
    req.auth = core::RegistryAuth{"reader", "wrong"};
    auto r = store->PullImage(req, nullptr);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == absl::StatusCode::kPermissionDenied);
    CHECK_THAT(std::string(r.status().message()),
               Catch::Contains("token server") && !Catch::Contains("wrong"));
  }
}

}  // namespace
}  // namespace zlayer::images
