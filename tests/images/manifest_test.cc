#include <catch2/catch.hpp>

#include "absl/strings/escaping.h"
#include "base/fs_util.h"
#include "images/credentials.h"
#include "images/digest.h"
#include "images/manifest.h"
#include "images/registry_client.h"
#include "support/test_support.h"

namespace zlayer::images {
namespace {

const std::string kD1 = "sha256:" + std::string(64, '1');
const std::string kD2 = "sha256:" + std::string(64, '2');
const std::string kD3 = "sha256:" + std::string(64, '3');

std::string Entry(const std::string& digest, const std::string& os, const std::string& arch,
                  const std::string& variant = "") {
  std::string p = R"({"os":")" + os + R"(","architecture":")" + arch + "\"";
  if (!variant.empty()) p += R"(,"variant":")" + variant + "\"";
  p += "}";
  return R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + digest +
         R"(","size":10,"platform":)" + p + "}";
}

TEST_CASE("manifests and indexes parse, schema 1 and junk are refused", "[unit]") {
  const std::string manifest =
      R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",)"
      R"("config":{"mediaType":"x","digest":")" + kD1 + R"(","size":5},)"
      R"("layers":[{"mediaType":"y","digest":")" + kD2 + R"(","size":7}]})";
  auto m = ParseManifest(manifest, "");
  REQUIRE(m.ok());
  CHECK_FALSE(m->is_index);
  CHECK(m->manifest.config.digest == kD1);
  REQUIRE(m->manifest.layers.size() == 1);
  CHECK(m->manifest.layers[0].size == 7);

  // No mediaType field: OCI allows it; the shape decides.
  auto idx = ParseManifest(R"({"schemaVersion":2,"manifests":[)" + Entry(kD1, "linux", "amd64") +
                               "]}",
                           "application/json");
  REQUIRE(idx.ok());
  CHECK(idx->is_index);

  auto s1 = ParseManifest(R"({"schemaVersion":1,"name":"x","fsLayers":[]})", "");
  REQUIRE_FALSE(s1.ok());
  CHECK_THAT(std::string(s1.status().message()), Catch::Contains("schema 1"));
  CHECK(ParseManifest("not json", "").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(ParseManifest(R"({"mediaType":"application/x-foo"})", "")
                             .status()
                             .message()),
             Catch::Contains("unsupported manifest media type"));
  auto bad_digest = ParseManifest(
      R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:zz","size":1},"layers":[]})",
      "");
  CHECK(bad_digest.status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("the host platform is picked from an index, or the error lists what is there",
          "[unit]") {
  auto idx = ParseManifest(R"({"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)" +
                               Entry(kD1, "linux", "arm64", "v8") + "," +
                               Entry(kD2, "linux", "amd64") + "," +
                               Entry(kD3, "linux", "arm", "v7") + "]}",
                           "");
  REQUIRE(idx.ok());
  CHECK(SelectPlatform(idx->index, {"linux", "amd64", ""})->digest == kD2);
  CHECK(SelectPlatform(idx->index, {"linux", "arm64", ""})->digest == kD1);  // v8 default
  CHECK(SelectPlatform(idx->index, {"linux", "arm", "v7"})->digest == kD3);
  auto none = SelectPlatform(idx->index, {"linux", "s390x", ""});
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().code() == absl::StatusCode::kNotFound);
  CHECK_THAT(std::string(none.status().message()),
             Catch::Contains("linux/s390x") && Catch::Contains("linux/arm64/v8, linux/amd64"));
  const Platform host = Platform::Host();
  CHECK(host.os == "linux");
  CHECK_FALSE(host.architecture.empty());
}

TEST_CASE("image configs parse and chain ids follow the spec", "[unit]") {
  const std::string cfg =
      R"({"architecture":"amd64","os":"linux","created":"2024-01-02T03:04:05.123Z",)"
      R"("config":{"Entrypoint":["/bin/sh","-c"],"Cmd":["echo hi"],"Env":["A=1"],)"
      R"("WorkingDir":"/srv","User":"1000:1000","StopSignal":"SIGINT","Labels":{"k":"v"},)"
      R"("ExposedPorts":{"80/tcp":{}},"Volumes":{"/data":{}}},)"
      R"("rootfs":{"type":"layers","diff_ids":[")" + kD1 + R"(",")" + kD2 + R"("]}})";
  auto c = ParseImageConfig(cfg);
  REQUIRE(c.ok());
  CHECK(c->entrypoint == std::vector<std::string>{"/bin/sh", "-c"});
  CHECK(c->cmd == std::vector<std::string>{"echo hi"});
  CHECK(c->working_dir == "/srv");
  CHECK(c->user == "1000:1000");
  CHECK(c->stop_signal == "SIGINT");
  CHECK(c->labels.at("k") == "v");
  CHECK(c->exposed_ports == std::vector<std::string>{"80/tcp"});
  CHECK(c->volumes == std::vector<std::string>{"/data"});
  CHECK(c->created.has_value());
  auto chains = ChainIds(c->diff_ids);
  REQUIRE(chains.size() == 2);
  CHECK(chains[0] == kD1);
  CHECK(chains[1] == DigestOf(kD1 + " " + kD2));
  CHECK_FALSE(ParseImageConfig(R"({"os":"linux"})").ok());
}

TEST_CASE("WWW-Authenticate challenges parse", "[unit]") {
  auto c = ParseChallenge(
      R"(Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push")");
  CHECK(c.scheme == "bearer");
  CHECK(c.params["realm"] == "https://auth.example/token");
  CHECK(c.params["service"] == "registry.example");
  CHECK(c.params["scope"] == "repository:a/b:pull,push");
  auto b = ParseChallenge(R"(Basic realm="x")");
  CHECK(b.scheme == "basic");
  CHECK(IsLoopbackHost("127.0.0.1:5000"));
  CHECK(IsLoopbackHost("127.9.9.9"));
  CHECK(IsLoopbackHost("localhost:80"));
  CHECK(IsLoopbackHost("[::1]:5000"));
  CHECK_FALSE(IsLoopbackHost("10.0.0.1:5000"));
  CHECK_FALSE(IsLoopbackHost("registry.example"));
}

TEST_CASE("credentials come from a Docker config.json keyed by host", "[unit]") {
  auto dir = zlayer::testing::MakeTempDir();
  const std::string path = dir.path() + "/config.json";
  std::string b64;
  absl::Base64Escape("alice:s3cret", &b64);
  REQUIRE(base::WriteFileAtomic(path, R"({"auths":{"registry.example:5000":{"auth":")" + b64 +
                                          R"("},"https://index.docker.io/v1/":{"username":"bob","password":"pw"}}})")
              .ok());
  auto a = LookupCredentials(path, "registry.example:5000");
  REQUIRE(a.ok());
  REQUIRE(a->has_value());
  CHECK((*a)->username == "alice");
  CHECK((*a)->password == "s3cret");
  auto hub = LookupCredentials(path, "docker.io");
  REQUIRE(hub.ok());
  REQUIRE(hub->has_value());
  CHECK((*hub)->username == "bob");
  CHECK_FALSE(LookupCredentials(path, "other.example")->has_value());
  CHECK_FALSE(LookupCredentials(dir.path() + "/missing.json", "x")->has_value());
  REQUIRE(base::WriteFileAtomic(path, "{nope").ok());
  auto bad = LookupCredentials(path, "x");
  CHECK(bad.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK_THAT(std::string(bad.status().message()), !Catch::Contains("nope"));
}

}  // namespace
}  // namespace zlayer::images
