#include "images/reference.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace zlayer::images {
namespace {

// The grammar is distribution/reference's; messages quote the offending part so a
// user can see which of host, path, tag or digest to fix.
constexpr size_t kMaxNameLength = 255;
constexpr size_t kMaxTagLength = 128;

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)); }

absl::Status Invalid(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("invalid image reference \"", text, "\": ", why));
}

// path-component := [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
absl::Status CheckPathComponent(absl::string_view text, absl::string_view c) {
  if (c.empty()) return Invalid(text, "repository path has an empty component");
  for (char ch : c) {
    if (absl::ascii_isupper(static_cast<unsigned char>(ch))) {
      return Invalid(text, "repository name must be lowercase");
    }
  }
  size_t i = 0;
  auto alnum_run = [&]() {
    const size_t start = i;
    while (i < c.size() && IsLowerAlnum(c[i])) ++i;
    return i > start;
  };
  const auto bad = [&]() {
    return Invalid(text, absl::StrCat("repository path component \"", c,
                                      "\" may hold only a-z, 0-9 and single '.', '_', '__' "
                                      "or '-' runs between them"));
  };
  if (!alnum_run()) return bad();
  while (i < c.size()) {
    if (c[i] == '.') {
      ++i;
    } else if (c[i] == '_') {
      ++i;
      if (i < c.size() && c[i] == '_') ++i;
    } else if (c[i] == '-') {
      while (i < c.size() && c[i] == '-') ++i;
    } else {
      return bad();
    }
    if (!alnum_run()) return bad();
  }
  return absl::OkStatus();
}

// domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
bool ValidDomainComponent(absl::string_view c) {
  if (c.empty() || !IsAlnum(c.front()) || !IsAlnum(c.back())) return false;
  for (char ch : c) {
    if (!IsAlnum(ch) && ch != '-') return false;
  }
  return true;
}

absl::Status CheckDomain(absl::string_view text, absl::string_view domain) {
  absl::string_view host = domain;
  absl::string_view port;
  if (absl::StartsWith(domain, "[")) {
    const size_t close = domain.find(']');
    if (close == absl::string_view::npos) return Invalid(text, "unterminated IPv6 address");
    const absl::string_view inner = domain.substr(1, close - 1);
    if (inner.empty() || inner.find_first_not_of("0123456789abcdefABCDEF:.") !=
                             absl::string_view::npos) {
      return Invalid(text, absl::StrCat("bad IPv6 address \"", inner, "\""));
    }
    host = domain.substr(0, close + 1);
    absl::string_view rest = domain.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return Invalid(text, "junk after IPv6 address");
      port = rest.substr(1);
      if (port.empty()) return Invalid(text, "registry port is empty");
    }
  } else {
    const size_t colon = domain.find(':');
    if (colon != absl::string_view::npos) {
      host = domain.substr(0, colon);
      port = domain.substr(colon + 1);
      if (port.empty()) return Invalid(text, "registry port is empty");
    }
    for (absl::string_view c : absl::StrSplit(host, '.')) {
      if (!ValidDomainComponent(c)) {
        return Invalid(text, absl::StrCat("bad registry host \"", host, "\""));
      }
    }
  }
  if (!port.empty()) {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != absl::string_view::npos) {
      return Invalid(text, absl::StrCat("bad registry port \"", port, "\""));
    }
    int value = 0;
    for (char ch : port) value = value * 10 + (ch - '0');
    if (value == 0 || value > 65535) {
      return Invalid(text, absl::StrCat("registry port ", port, " is out of range"));
    }
  }
  return absl::OkStatus();
}

// tag := [\w][\w.-]{0,127}
absl::Status CheckTag(absl::string_view text, absl::string_view tag) {
  if (tag.empty()) return Invalid(text, "tag after ':' is empty");
  if (tag.size() > kMaxTagLength) return Invalid(text, "tag is longer than 128 characters");
  auto word = [](char c) { return IsAlnum(c) || c == '_'; };
  if (!word(tag.front())) {
    return Invalid(text, absl::StrCat("tag \"", tag, "\" must start with a letter, digit or '_'"));
  }
  for (char c : tag) {
    if (!word(c) && c != '.' && c != '-') {
      return Invalid(text, absl::StrCat("tag \"", tag, "\" may hold only letters, digits, '_', "
                                                       "'.' and '-'"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateDigest(absl::string_view digest) {
  const size_t colon = digest.find(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid digest \"", digest, "\": expected <algorithm>:<hex>"));
  }
  const absl::string_view algo = digest.substr(0, colon);
  const absl::string_view hex = digest.substr(colon + 1);
  if (algo != "sha256") {
    return absl::InvalidArgumentError(absl::StrCat(
        "unsupported digest algorithm \"", algo, "\": only sha256 content is stored"));
  }
  if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdef") != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid digest \"", digest, "\": sha256 needs 64 lower-case hex digits"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Reference> ParseReference(absl::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("invalid image reference: it is empty");
  for (char c : text) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      return Invalid(text, "contains whitespace or control characters");
    }
  }
  Reference ref;
  absl::string_view rest = text;
  if (const size_t at = rest.find('@'); at != absl::string_view::npos) {
    const absl::string_view digest = rest.substr(at + 1);
    if (auto s = ValidateDigest(digest); !s.ok()) return Invalid(text, s.message());
    ref.digest = std::string(digest);
    rest = rest.substr(0, at);
  }
  // The tag follows the last ':' that comes after the last '/'; an earlier ':' is
  // the registry port.
  const size_t last_slash = rest.rfind('/');
  const size_t last_colon = rest.rfind(':');
  if (last_colon != absl::string_view::npos &&
      (last_slash == absl::string_view::npos || last_colon > last_slash) &&
      // "[::1]/x" has no tag; a colon inside the brackets belongs to the host.
      rest.substr(last_colon).find(']') == absl::string_view::npos) {
    const absl::string_view tag = rest.substr(last_colon + 1);
    if (auto s = CheckTag(text, tag); !s.ok()) return s;
    ref.tag = std::string(tag);
    ref.tag_explicit = true;
    rest = rest.substr(0, last_colon);
  }
  if (rest.empty()) return Invalid(text, "repository name is empty");

  absl::string_view path = rest;
  const size_t first_slash = rest.find('/');
  if (first_slash != absl::string_view::npos) {
    const absl::string_view first = rest.substr(0, first_slash);
    const bool has_upper = absl::AsciiStrToLower(first) != first;
    if (absl::StrContains(first, '.') || absl::StrContains(first, ':') || first == "localhost" ||
        absl::StartsWith(first, "[") || has_upper) {
      if (auto s = CheckDomain(text, first); !s.ok()) return s;
      ref.domain = std::string(first);
      path = rest.substr(first_slash + 1);
    }
  }
  if (ref.domain.empty() || ref.domain == "index.docker.io" ||
      ref.domain == kDockerHubApiHost) {
    ref.domain = std::string(kDockerHubDomain);
  }
  for (absl::string_view c : absl::StrSplit(path, '/')) {
    if (auto s = CheckPathComponent(text, c); !s.ok()) return s;
  }
  ref.repository = std::string(path);
  if (ref.domain == kDockerHubDomain && !absl::StrContains(path, '/')) {
    ref.repository = absl::StrCat("library/", path);
  }
  if (ref.Name().size() > kMaxNameLength) {
    return Invalid(text, "repository name is longer than 255 characters");
  }
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  return ref;
}

std::string Reference::Name() const { return absl::StrCat(domain, "/", repository); }

std::string Reference::String() const {
  std::string out = Name();
  if (!tag.empty()) absl::StrAppend(&out, ":", tag);
  if (!digest.empty()) absl::StrAppend(&out, "@", digest);
  return out;
}

std::string Reference::TagOrDigestRef() const {
  if (!tag.empty()) return absl::StrCat(Name(), ":", tag);
  return absl::StrCat(Name(), "@", digest);
}

std::string Reference::ApiHost() const {
  return domain == kDockerHubDomain ? std::string(kDockerHubApiHost) : domain;
}

}  // namespace zlayer::images
