#include "images/registry_client.h"

#include <arpa/inet.h>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "core/errors.h"
#include "images/digest.h"

namespace zlayer::images {
namespace {

constexpr size_t kMaxManifestBytes = 4 << 20;

// "host:port" / "[v6]:port" / "host" -> host without port or brackets.
std::string StripPort(const std::string& host) {
  if (absl::StartsWith(host, "[")) {
    const size_t close = host.find(']');
    return close == std::string::npos ? host : host.substr(1, close - 1);
  }
  const size_t colon = host.find(':');
  return colon == std::string::npos ? host : host.substr(0, colon);
}

std::string Escape(const std::string& s) {
  char* e = curl_easy_escape(nullptr, s.c_str(), static_cast<int>(s.size()));
  std::string out = e != nullptr ? e : "";
  curl_free(e);
  return out;
}

// "scheme://host[:port]/..." -> "host[:port]".
std::string HostOfUrl(absl::string_view url) {
  const size_t sep = url.find("://");
  if (sep != absl::string_view::npos) url.remove_prefix(sep + 3);
  return std::string(url.substr(0, url.find_first_of("/?#")));
}

// The registry's own explanation, from its JSON error body: "MANIFEST_UNKNOWN: ...".
std::string RegistryErrorText(const HttpResponse& r) {
  nlohmann::json j = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object()) {
    auto errors = j.find("errors");
    if (errors != j.end() && errors->is_array() && !errors->empty() &&
        (*errors)[0].is_object()) {
      const auto& e = (*errors)[0];
      std::string code = e.contains("code") && e["code"].is_string() ? e["code"].get<std::string>()
                                                                     : "";
      std::string msg = e.contains("message") && e["message"].is_string()
                            ? e["message"].get<std::string>()
                            : "";
      return absl::StrCat(code, code.empty() || msg.empty() ? "" : ": ", msg);
    }
  }
  return "";
}

}  // namespace

bool IsLoopbackHost(const std::string& host) {
  const std::string h = StripPort(host);
  if (h == "localhost") return true;
  struct in_addr v4;
  if (::inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  struct in6_addr v6;
  if (::inet_pton(AF_INET6, h.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

Challenge ParseChallenge(const std::string& header) {
  Challenge c;
  absl::string_view s = absl::StripAsciiWhitespace(header);
  const size_t sp = s.find(' ');
  c.scheme = absl::AsciiStrToLower(s.substr(0, sp));
  if (sp == absl::string_view::npos) return c;
  s.remove_prefix(sp + 1);
  while (!s.empty()) {
    s = absl::StripLeadingAsciiWhitespace(s);
    const size_t eq = s.find('=');
    if (eq == absl::string_view::npos) break;
    std::string key = absl::AsciiStrToLower(absl::StripAsciiWhitespace(s.substr(0, eq)));
    s.remove_prefix(eq + 1);
    std::string value;
    if (!s.empty() && s.front() == '"') {
      s.remove_prefix(1);
      while (!s.empty() && s.front() != '"') {
        if (s.front() == '\\' && s.size() > 1) s.remove_prefix(1);
        value.push_back(s.front());
        s.remove_prefix(1);
      }
      if (!s.empty()) s.remove_prefix(1);  // closing quote
    } else {
      const size_t end = s.find(',');
      value = std::string(absl::StripAsciiWhitespace(s.substr(0, end)));
      s.remove_prefix(end == absl::string_view::npos ? s.size() : end);
    }
    c.params[key] = value;
    s = absl::StripLeadingAsciiWhitespace(s);
    if (!s.empty() && s.front() == ',') s.remove_prefix(1);
  }
  return c;
}

absl::Status RegistryClient::StatusFor(const HttpResponse& r, absl::string_view what) const {
  std::string detail = RegistryErrorText(r);
  const std::string suffix = detail.empty() ? "" : absl::StrCat(" (", detail, ")");
  const long s = r.status;
  if (s == 404) {
    return absl::NotFoundError(absl::StrCat(what, " not found in ", Describe(), suffix));
  }
  if (s == 401 || s == 403) {
    return absl::PermissionDeniedError(
        absl::StrCat("registry ", options_.api_host, " denied access to ", what, suffix));
  }
  if (s == 400) {
    return absl::InvalidArgumentError(
        absl::StrCat("registry ", options_.api_host, " refused the request for ", what, suffix));
  }
  return absl::UnavailableError(absl::StrCat("registry ", options_.api_host, " answered HTTP ", s,
                                             " for ", what, suffix));
}

absl::Status RegistryClient::EnsurePinged(HttpClient& http) {
  {
    absl::MutexLock lock(&mu_);
    if (pinged_) return absl::OkStatus();
  }
  absl::MutexLock auth_lock(&auth_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (pinged_) return absl::OkStatus();
  }
  absl::Status last;
  for (const char* scheme : {"https", "http"}) {
    if (std::string_view(scheme) == "http" && !options_.policy.allow_http()) break;
    HttpRequest req;
    req.url = absl::StrCat(scheme, "://", options_.api_host, "/v2/");
    req.insecure_tls = options_.policy.insecure;
    auto r = http.Do(req);
    if (!r.ok()) {
      last = r.status();
      // A plain-HTTP registry answers a TLS hello with garbage: fall back, but only
      // where the operator (or loopback) allows http.
      if (http.last_error_was_tls_handshake() || options_.policy.insecure) continue;
      return last;
    }
    {
      absl::MutexLock lock(&mu_);
      base_url_ = absl::StrCat(scheme, "://", options_.api_host);
    }
    if (r->status == 401) {
      AGENTD_RETURN_IF_ERROR(Authenticate(http, r->Header("www-authenticate")));
    }
    absl::MutexLock lock(&mu_);
    pinged_ = true;
    return absl::OkStatus();
  }
  return last;
}

absl::Status RegistryClient::Authenticate(HttpClient& http, const std::string& header) {
  const Challenge c = ParseChallenge(header);
  const auto& creds = options_.credentials;
  if (c.scheme == "basic") {
    if (!creds) {
      return absl::PermissionDeniedError(absl::StrCat(
          "registry ", options_.api_host,
          " requires credentials; none were given inline or found in the credentials file"));
    }
    std::string b64;
    absl::Base64Escape(absl::StrCat(creds->username, ":", creds->password), &b64);
    absl::MutexLock lock(&mu_);
    auth_header_ = absl::StrCat("Authorization: Basic ", b64);
    return absl::OkStatus();
  }
  if (c.scheme != "bearer") {
    return absl::PermissionDeniedError(absl::StrCat("registry ", options_.api_host,
                                                    " asks for unsupported auth scheme \"",
                                                    c.scheme, "\""));
  }
  auto realm = c.params.find("realm");
  if (realm == c.params.end() || realm->second.empty()) {
    return absl::PermissionDeniedError(
        absl::StrCat("registry ", options_.api_host, " sent a Bearer challenge without a realm"));
  }
  const std::string& realm_url = realm->second;
  const std::string realm_host = HostOfUrl(realm_url);
  const bool realm_https = absl::StartsWith(realm_url, "https://");
  if (!realm_https && !(absl::StartsWith(realm_url, "http://") &&
                        (IsLoopbackHost(realm_host) || options_.policy.insecure))) {
    return absl::PermissionDeniedError(absl::StrCat(
        "registry ", options_.api_host, " points to token realm ", realm_url,
        " which is not https; refusing to send credentials there"));
  }
  std::string url = realm_url;
  std::string sep = absl::StrContains(url, '?') ? "&" : "?";
  if (auto svc = c.params.find("service"); svc != c.params.end()) {
    absl::StrAppend(&url, sep, "service=", Escape(svc->second));
    sep = "&";
  }
  std::string scope = absl::StrCat("repository:", options_.repository, ":pull");
  if (auto sc = c.params.find("scope"); sc != c.params.end() && !sc->second.empty()) {
    scope = sc->second;
  }
  absl::StrAppend(&url, sep, "scope=", Escape(scope));
  HttpRequest req;
  req.url = url;
  req.insecure_tls = options_.policy.insecure && realm_host == options_.api_host;
  if (creds) {
    std::string b64;
    absl::Base64Escape(absl::StrCat(creds->username, ":", creds->password), &b64);
    req.headers.push_back(absl::StrCat("Authorization: Basic ", b64));
  }
  auto r = http.Do(req);
  if (!r.ok()) return core::Annotate(r.status(), "token request");
  if (r->status == 401 || r->status == 403) {
    return absl::PermissionDeniedError(absl::StrCat(
        "token server ", realm_host, " refused ",
        creds ? absl::StrCat("the credentials of user \"", creds->username, "\"")
              : std::string("anonymous access"),
        " for ", options_.repository));
  }
  if (r->status != 200) {
    return absl::UnavailableError(
        absl::StrCat("token server ", realm_host, " answered HTTP ", r->status));
  }
  nlohmann::json j = nlohmann::json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  std::string token;
  if (j.is_object()) {
    for (const char* key : {"token", "access_token"}) {
      if (auto t = j.find(key); t != j.end() && t->is_string() && !t->get<std::string>().empty()) {
        token = t->get<std::string>();
        break;
      }
    }
  }
  if (token.empty()) {
    return absl::UnavailableError(
        absl::StrCat("token server ", realm_host, " answered without a token"));
  }
  absl::MutexLock lock(&mu_);
  auth_header_ = absl::StrCat("Authorization: Bearer ", token);
  return absl::OkStatus();
}

absl::StatusOr<HttpResponse> RegistryClient::DoWithHeader(HttpClient& http, HttpRequest req) {
  {
    absl::MutexLock lock(&mu_);
    req.url = absl::StrCat(base_url_, req.url);
    if (!auth_header_.empty()) req.headers.push_back(auth_header_);
  }
  req.insecure_tls = options_.policy.insecure;
  return http.Do(req);
}

absl::StatusOr<HttpResponse> RegistryClient::Send(HttpClient& http, HttpRequest req) {
  AGENTD_RETURN_IF_ERROR(EnsurePinged(http));
  auto r = DoWithHeader(http, req);
  if (!r.ok() || r->status != 401) return r;
  // A token can expire mid-pull or carry too narrow a scope: answer this
  // challenge once, then give up.
  {
    absl::MutexLock auth_lock(&auth_mu_);
    AGENTD_RETURN_IF_ERROR(Authenticate(http, r->Header("www-authenticate")));
  }
  auto again = DoWithHeader(http, req);
  if (again.ok() && again->status == 401) {
    return absl::PermissionDeniedError(absl::StrCat(
        "registry ", options_.api_host, " rejected ",
        options_.credentials
            ? absl::StrCat("the credentials of user \"", options_.credentials->username, "\"")
            : std::string("anonymous access"),
        " for ", options_.repository));
  }
  return again;
}

absl::StatusOr<FetchedManifest> RegistryClient::GetManifest(HttpClient& http,
                                                            const std::string& selector) {
  HttpRequest req;
  req.url = absl::StrCat("/v2/", options_.repository, "/manifests/", selector);
  req.headers.push_back(ManifestAcceptHeader());
  req.max_collected_body = kMaxManifestBytes + 1;
  std::string body;
  bool too_big = false;
  req.on_body = [&](const char* d, size_t n) {
    if (body.size() + n > kMaxManifestBytes) {
      too_big = true;
      return false;
    }
    body.append(d, n);
    return true;
  };
  auto r = Send(http, std::move(req));
  if (too_big) {
    return absl::InvalidArgumentError(absl::StrCat("manifest ", selector, " of ", Describe(),
                                                   " is larger than 4 MiB"));
  }
  if (!r.ok()) return r.status();
  if (r->status != 200) return StatusFor(*r, absl::StrCat("manifest ", selector));
  FetchedManifest out;
  out.digest = DigestOf(body);
  out.body = std::move(body);
  out.media_type = r->Header("content-type");
  if (absl::StartsWith(selector, "sha256:") && out.digest != selector) {
    return absl::InvalidArgumentError(absl::StrCat("registry ", options_.api_host,
                                                   " served manifest ", out.digest,
                                                   " when asked for ", selector));
  }
  return out;
}

absl::Status RegistryClient::GetBlob(HttpClient& http, const std::string& digest,
                                     const std::function<bool(const char*, size_t)>& sink,
                                     uint64_t offset,
                                     const std::function<void(long status)>& on_status) {
  HttpRequest req;
  req.url = absl::StrCat("/v2/", options_.repository, "/blobs/", digest);
  req.follow_redirects = true;
  req.on_body = sink;
  req.on_status = on_status;
  if (offset > 0) req.headers.push_back(absl::StrCat("Range: bytes=", offset, "-"));
  req.max_recv_speed = options_.max_recv_speed;
  auto r = Send(http, std::move(req));
  if (!r.ok()) return r.status();
  if (r->status != 200 && r->status != 206) return StatusFor(*r, absl::StrCat("blob ", digest));
  return absl::OkStatus();
}

}  // namespace zlayer::images
