// Per-container call-back tokens: the JWS is checked against one computed
// independently (Python's hmac and base64 modules), and the secret file's rules.
#include "auth/container_auth.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "base/fs_util.h"

using zlayer::auth::ContainerAuthConfig;
using zlayer::auth::ContainerAuthContext;
using zlayer::core::ContainerId;

TEST_CASE("container tokens are HS256 JWTs naming the container", "[unit]") {
  ContainerAuthContext auth{"http://127.0.0.1:3669", "s3cret-key", "", absl::Hours(1)};
  auto token = zlayer::auth::MintContainerToken(auth, ContainerId{"web", 2},
                                                absl::FromUnixSeconds(1700000000));
  REQUIRE(token.ok());
  // python3: hmac.new(b"s3cret-key", signing_input, hashlib.sha256), unpadded base64url,
  // claims {"exp":1700003600,"iat":1700000000,"iss":"zlayer","roles":["container"],
  // "sub":"container:web:web-rep-2"}.
  CHECK(*token ==
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
        "eyJleHAiOjE3MDAwMDM2MDAsImlhdCI6MTcwMDAwMDAwMCwiaXNzIjoiemxheWVyIiwicm9sZXMiOlsiY29udGFp"
        "bmVyIl0sInN1YiI6ImNvbnRhaW5lcjp3ZWI6d2ViLXJlcC0yIn0."
        "2Z6XOkx1q-U2IY31s3UjgUHjSeDElgoA8MxfRiv8Neo");
  auth.jwt_secret = "other";
  CHECK(*zlayer::auth::MintContainerToken(auth, ContainerId{"web", 2},
                                          absl::FromUnixSeconds(1700000000)) != *token);
}

TEST_CASE("the token secret file must be private and non-empty", "[unit]") {
  auto dir = zlayer::base::TempDir::Create();
  REQUIRE(dir.ok());
  const std::string path = dir->path() + "/jwt";
  ContainerAuthConfig config;
  config.enabled = true;
  config.api_url = "http://127.0.0.1:3669";
  config.jwt_secret_file = path;

  auto missing = zlayer::auth::LoadContainerAuth(config);
  CHECK(missing.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(missing.status().message().find(path) != std::string::npos);

  REQUIRE(zlayer::base::WriteFileAtomic(path, "k3y\n", 0644).ok());
  auto shared = zlayer::auth::LoadContainerAuth(config);
  CHECK(shared.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(shared.status().message().find("chmod 600") != std::string::npos);

  REQUIRE(::chmod(path.c_str(), 0600) == 0);
  auto loaded = zlayer::auth::LoadContainerAuth(config);
  REQUIRE(loaded.ok());
  CHECK(loaded->jwt_secret == "k3y");  // the newline an editor adds is not part of it
  CHECK(loaded->api_url == "http://127.0.0.1:3669");

  if (::geteuid() == 0) {  // another user's file: that user could forge tokens
    REQUIRE(::chown(path.c_str(), 65534, 65534) == 0);
    auto foreign = zlayer::auth::LoadContainerAuth(config);
    CHECK(foreign.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(foreign.status().message().find("chown") != std::string::npos);
    REQUIRE(::chown(path.c_str(), 0, 0) == 0);
  }

  REQUIRE(zlayer::base::WriteFileAtomic(path, "\n", 0600).ok());
  CHECK(zlayer::auth::LoadContainerAuth(config).status().code() ==
        absl::StatusCode::kFailedPrecondition);
}
