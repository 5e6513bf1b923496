#include "images/credentials.h"

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/fs_util.h"
#include "images/reference.h"

namespace zlayer::images {
namespace {

// "https://host:5000/v1/" -> "host:5000".
std::string HostOfKey(absl::string_view key) {
  absl::ConsumePrefix(&key, "https://");
  absl::ConsumePrefix(&key, "http://");
  return std::string(key.substr(0, key.find('/')));
}

bool Matches(absl::string_view key, const std::string& host) {
  const std::string key_host = HostOfKey(key);
  if (key_host == host) return true;
  if (host == kDockerHubDomain) {
    return key_host == "index.docker.io" || key_host == kDockerHubApiHost;
  }
  return false;
}

}  // namespace

absl::StatusOr<std::optional<core::RegistryAuth>> LookupCredentials(const std::string& path,
                                                                    const std::string& host) {
  if (path.empty()) return std::optional<core::RegistryAuth>();
  auto text = base::ReadFile(path);
  if (!text.ok()) {
    if (absl::IsNotFound(text.status())) return std::optional<core::RegistryAuth>();
    return absl::FailedPreconditionError(
        absl::StrCat("registry credentials file ", path, ": ", text.status().message()));
  }
  auto bad = [&](absl::string_view why) {
    return absl::FailedPreconditionError(
        absl::StrCat("registry credentials file ", path, " ", why));
  };
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return bad("is not a JSON object");
  auto auths = j.find("auths");
  if (auths == j.end()) return std::optional<core::RegistryAuth>();
  if (!auths->is_object()) return bad("has an \"auths\" entry that is not an object");
  for (auto it = auths->begin(); it != auths->end(); ++it) {
    if (!Matches(it.key(), host) || !it->is_object()) continue;
    core::RegistryAuth auth;
    if (auto a = it->find("auth"); a != it->end() && a->is_string()) {
      std::string decoded;
      if (!absl::Base64Unescape(a->get<std::string>(), &decoded)) {
        return bad(absl::StrCat("has an undecodable \"auth\" for ", it.key()));
      }
      const size_t colon = decoded.find(':');
      if (colon == std::string::npos) {
        return bad(absl::StrCat("has an \"auth\" for ", it.key(), " without user:password"));
      }
      auth.username = decoded.substr(0, colon);
      auth.password = decoded.substr(colon + 1);
    } else {
      if (auto u = it->find("username"); u != it->end() && u->is_string()) {
        auth.username = u->get<std::string>();
      }
      if (auto p = it->find("password"); p != it->end() && p->is_string()) {
        auth.password = p->get<std::string>();
      }
    }
    if (auth.username.empty() && auth.password.empty()) continue;
    return std::optional<core::RegistryAuth>(std::move(auth));
  }
  return std::optional<core::RegistryAuth>();
}

}  // namespace zlayer::images
