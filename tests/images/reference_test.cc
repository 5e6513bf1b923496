#include <catch2/catch.hpp>

#include "images/reference.h"

namespace zlayer::images {
namespace {

std::string Canon(const std::string& s) {
  auto r = ParseReference(s);
  if (!r.ok()) return "ERROR: " + std::string(r.status().message());
  return r->String();
}

TEST_CASE("references normalise the way docker does", "[unit]") {
  CHECK(Canon("busybox") == "docker.io/library/busybox:latest");
  CHECK(Canon("busybox:1.36") == "docker.io/library/busybox:1.36");
  CHECK(Canon("library/busybox") == "docker.io/library/busybox:latest");
  CHECK(Canon("docker.io/busybox") == "docker.io/library/busybox:latest");
  CHECK(Canon("index.docker.io/library/busybox:x") == "docker.io/library/busybox:x");
  CHECK(Canon("user/app") == "docker.io/user/app:latest");
  CHECK(Canon("127.0.0.1:5000/ns/name:tag") == "127.0.0.1:5000/ns/name:tag");
  CHECK(Canon("localhost/app") == "localhost/app:latest");
  CHECK(Canon("localhost:5000/app") == "localhost:5000/app:latest");
  CHECK(Canon("registry.example.com/a/b/c:v1.2-rc_3") == "registry.example.com/a/b/c:v1.2-rc_3");
  CHECK(Canon("[::1]:5000/app:1") == "[::1]:5000/app:1");
  CHECK(Canon("Example.COM/app") == "Example.COM/app:latest");
  CHECK(Canon("a.b/x__y/z-z.w") == "a.b/x__y/z-z.w:latest");
  const std::string d = "sha256:" + std::string(64, 'a');
  CHECK(Canon("busybox@" + d) == "docker.io/library/busybox@" + d);
  CHECK(Canon("host:5000/x:tag@" + d) == "host:5000/x:tag@" + d);

  auto r = ParseReference("127.0.0.1:5000/ns/name@" + d);
  REQUIRE(r.ok());
  CHECK(r->domain == "127.0.0.1:5000");
  CHECK(r->repository == "ns/name");
  CHECK(r->tag.empty());
  CHECK(r->digest == d);
  CHECK(r->ManifestSelector() == d);
  CHECK(ParseReference("busybox")->ApiHost() == "registry-1.docker.io");
  CHECK_FALSE(ParseReference("busybox")->tag_explicit);
  CHECK(ParseReference("busybox:latest")->tag_explicit);
}

TEST_CASE("malformed references are INVALID_ARGUMENT with a reason", "[unit]") {
  struct Case {
    std::string text;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"", "empty"},
      {"BusyBox", "lowercase"},
      {"docker.io/Library/busybox", "lowercase"},
      {"busybox:", "tag after ':' is empty"},
      {"busybox:-bad", "must start with"},
      {"busybox:a/b", "bad registry port"},
      {"busybox@sha256:abc", "64 lower-case hex"},
      {"busybox@md5:" + std::string(32, 'a'), "unsupported digest algorithm"},
      {"busybox@", "expected <algorithm>:<hex>"},
      {"host:99999/app", "out of range"},
      {"host:/app", "port is empty"},
      {"-host.com/app", "bad registry host"},
      {"a//b", "empty component"},
      {"a/b/", "empty component"},
      {"bad name", "whitespace"},
      {"app:" + std::string(129, 'x'), "longer than 128"},
      {"x.io/" + std::string(260, 'a'), "longer than 255"},
      {"app..x", "may hold only"},
      {"[::1/app", "unterminated"},
  };
  for (const auto& c : cases) {
    INFO("reference: " << c.text);
    auto r = ParseReference(c.text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(r.status().message()), Catch::Contains(c.reason));
  }
}

TEST_CASE("digests are validated strictly", "[unit]") {
  CHECK(ValidateDigest("sha256:" + std::string(64, '0')).ok());
  CHECK_FALSE(ValidateDigest("sha256:" + std::string(64, 'A')).ok());
  CHECK_FALSE(ValidateDigest("sha256:" + std::string(63, '0')).ok());
  CHECK_FALSE(ValidateDigest("sha512:" + std::string(128, '0')).ok());
  CHECK_FALSE(ValidateDigest(std::string(64, '0')).ok());
}

}  // namespace
}  // namespace zlayer::images
