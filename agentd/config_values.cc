#include "agentd/config_values.h"

#include <arpa/inet.h>
#include <grp.h>

#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace zlayer::agentd {

bool ParseByteSize(absl::string_view text, uint64_t* out) {
  struct Unit {
    const char* suffix;
    uint64_t factor;
  };
  static const Unit kUnits[] = {{"Ki", 1ull << 10}, {"Mi", 1ull << 20}, {"Gi", 1ull << 30},
                                {"Ti", 1ull << 40}, {"K", 1000},        {"M", 1000000},
                                {"G", 1000000000},  {"T", 1000000000000}};
  for (const auto& u : kUnits) {
    if (absl::ConsumeSuffix(&text, u.suffix)) {
      uint64_t n;
      if (!absl::SimpleAtoi(text, &n) || n > UINT64_MAX / u.factor) return false;
      *out = n * u.factor;
      return true;
    }
  }
  return absl::SimpleAtoi(text, out);
}

bool ParseMode(absl::string_view text, unsigned* out) {
  if (text.empty() || text.size() > 4) return false;
  unsigned mode = 0;
  for (char c : text) {
    if (c < '0' || c > '7') return false;
    mode = mode * 8 + static_cast<unsigned>(c - '0');
  }
  *out = mode;
  return true;
}

std::string CheckAbsolutePath(absl::string_view v) {
  if (v.empty() || v[0] != '/') return "expected an absolute path";
  return {};
}

std::string CheckSocketPath(absl::string_view v) {
  if (auto e = CheckAbsolutePath(v); !e.empty()) return e;
  // sun_path holds 108 bytes including the terminating NUL.
  if (v.size() > 107) return absl::StrCat("socket path is ", v.size(), " bytes; at most 107 fit");
  return {};
}

std::string CheckGroup(absl::string_view v) {
  if (v.empty()) return {};
  unsigned gid;
  if (absl::SimpleAtoi(v, &gid)) return {};
  if (::getgrnam(std::string(v).c_str()) == nullptr) {
    return absl::StrCat("group '", v, "' does not exist; create it (groupadd) or use a gid");
  }
  return {};
}

std::string CheckHostPort(absl::string_view v, bool port_required) {
  const char* expected = port_required ? "expected HOST:PORT, e.g. 127.0.0.1:7443 or [::1]:7443"
                                       : "expected HOST or HOST:PORT, without a scheme or path";
  if (v.empty() || absl::StrContains(v, "/") || absl::StrContains(v, " ")) return expected;
  absl::string_view host = v, port;
  if (v[0] == '[') {
    const auto close = v.find(']');
    if (close == absl::string_view::npos || close == 1) return expected;
    host = v.substr(0, close + 1);
    if (close + 1 < v.size()) {
      if (v[close + 1] != ':') return expected;
      port = v.substr(close + 2);
      if (port.empty()) return expected;
    }
  } else if (const auto colon = v.rfind(':'); colon != absl::string_view::npos) {
    host = v.substr(0, colon);
    port = v.substr(colon + 1);
    if (absl::StrContains(host, ":") || port.empty()) return expected;
  }
  if (host.empty() || (port_required && port.empty())) return expected;
  if (!port.empty()) {
    unsigned n;
    if (!absl::SimpleAtoi(port, &n) || n > 65535) return expected;
  }
  return {};
}

std::string CheckRuntime(absl::string_view v) {
  if (v.empty()) return "expected auto, youki, crun, runc, another name in PATH, or a path";
  if (absl::StrContains(v, "/") && v[0] != '/') return "a runtime path must be absolute";
  return {};
}

std::string CheckHttpUrl(absl::string_view v) {
  absl::string_view rest = v;
  if (!absl::ConsumePrefix(&rest, "http://") && !absl::ConsumePrefix(&rest, "https://")) {
    return "expected an http:// or https:// URL";
  }
  if (rest.empty() || rest[0] == '/' || absl::StrContains(v, " ")) {
    return "expected a URL with a host, e.g. http://127.0.0.1:3669";
  }
  return {};
}

std::string ByteSize(uint64_t bytes) {
  for (const auto& [suffix, shift] : {std::pair<const char*, int>{"Ti", 40}, {"Gi", 30},
                                      {"Mi", 20}, {"Ki", 10}}) {
    const uint64_t unit = 1ull << shift;
    if (bytes >= unit && bytes % unit == 0) return absl::StrCat(bytes / unit, suffix);
  }
  return absl::StrCat(bytes);
}

std::string Octal(unsigned mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode);
  return buf;
}

std::string CheckInterfaceName(absl::string_view v) {
  if (v.empty() || v.size() > 15) return "expected an interface name of 1 to 15 characters";
  for (char c : v) {
    if (c == '/' || c == ':' || c <= ' ' || c > '~') return "expected an interface name";
  }
  return "";
}

std::string CheckIpv4Subnet(absl::string_view v) {
  const std::string error = "expected an IPv4 subnet such as 10.89.0.0/24 (prefix 8 to 30)";
  const size_t slash = v.find('/');
  if (slash == absl::string_view::npos) return error;
  int prefix;
  if (!absl::SimpleAtoi(v.substr(slash + 1), &prefix) || prefix < 8 || prefix > 30) return error;
  struct in_addr addr;
  if (::inet_pton(AF_INET, std::string(v.substr(0, slash)).c_str(), &addr) != 1) return error;
  return "";
}

}  // namespace zlayer::agentd
