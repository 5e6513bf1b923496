#include "auth/container_auth.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "base/fs_util.h"
#include "nlohmann/json.hpp"

namespace zlayer::auth {

absl::StatusOr<ContainerAuthContext> LoadContainerAuth(const ContainerAuthConfig& config) {
  const std::string& path = config.jwt_secret_file;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "container_auth.jwt_secret_file ", path,
        " cannot be read; create it with the orchestrator's token secret (mode 0600)"));
  }
  if (st.st_uid != ::geteuid()) {
    return absl::FailedPreconditionError(absl::StrCat("container_auth.jwt_secret_file ", path,
                                                      " is owned by uid ", st.st_uid,
                                                      ", not by the agent's uid ", ::geteuid(),
                                                      "; its owner could forge container tokens: "
                                                      "chown it"));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(absl::StrCat("container_auth.jwt_secret_file ", path,
                                                      " is readable by group or others (mode ",
                                                      absl::StrFormat("%04o", st.st_mode & 0777),
                                                      "); anyone who reads it can forge container "
                                                      "tokens: chmod 600 it"));
  }
  auto text = base::ReadFile(path);
  if (!text.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("container_auth.jwt_secret_file ", path, ": ", text.status().message()));
  }
  // Editors and `echo` add a newline that the orchestrator's copy of the key lacks.
  std::string secret(absl::StripTrailingAsciiWhitespace(*text));
  if (secret.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("container_auth.jwt_secret_file ", path, " is empty; put the secret in it"));
  }
  return ContainerAuthContext{config.api_url, std::move(secret), config.socket_path,
                              config.token_ttl};
}

absl::StatusOr<std::string> MintContainerToken(const ContainerAuthContext& auth,
                                               const core::ContainerId& id, absl::Time now) {
  const int64_t iat = absl::ToUnixSeconds(now);
  const nlohmann::json header = {{"alg", "HS256"}, {"typ", "JWT"}};
  const nlohmann::json claims = {
      {"sub", absl::StrCat("container:", id.service, ":", id.ToString())},
      {"iss", "zlayer"},
      {"roles", {"container"}},
      {"iat", iat},
      {"exp", iat + absl::ToInt64Seconds(auth.token_ttl)},
  };
  const std::string signing_input = absl::StrCat(absl::WebSafeBase64Escape(header.dump()), ".",
                                                 absl::WebSafeBase64Escape(claims.dump()));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (HMAC(EVP_sha256(), auth.jwt_secret.data(), static_cast<int>(auth.jwt_secret.size()),
           reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac,
           &mac_len) == nullptr) {
    return absl::InternalError(absl::StrCat("signing the token of container ", id.ToString(),
                                            " failed (OpenSSL HMAC-SHA256)"));
  }
  return absl::StrCat(
      signing_input, ".",
      absl::WebSafeBase64Escape(absl::string_view(reinterpret_cast<const char*>(mac), mac_len)));
}

}  // namespace zlayer::auth
