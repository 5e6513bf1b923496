#include "images/manifest.h"

#include <sys/utsname.h>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "images/digest.h"
#include "images/reference.h"

namespace zlayer::images {
namespace {

using nlohmann::json;

// nlohmann throws on type mismatches; each accessor here checks the type first so
// a hostile manifest cannot take a path that throws, and the parse itself is
// wrapped in the non-throwing overload.
std::string GetString(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<std::string> GetStrings(const json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& v : *it) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

std::vector<std::string> GetKeys(const json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_object()) return out;
  for (auto kv = it->begin(); kv != it->end(); ++kv) out.push_back(kv.key());
  return out;
}

absl::StatusOr<Descriptor> ParseDescriptor(const json& j, absl::string_view what) {
  if (!j.is_object()) return absl::InvalidArgumentError(absl::StrCat(what, " is not an object"));
  Descriptor d;
  d.media_type = GetString(j, "mediaType");
  d.digest = GetString(j, "digest");
  if (auto s = ValidateDigest(d.digest); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", s.message()));
  }
  auto size = j.find("size");
  if (size == j.end() || !size->is_number_integer() || size->get<int64_t>() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(what, " ", d.digest, " has no valid size"));
  }
  d.size = size->get<int64_t>();
  d.urls = GetStrings(j, "urls");
  if (auto p = j.find("platform"); p != j.end() && p->is_object()) {
    d.has_platform = true;
    d.platform.os = GetString(*p, "os");
    d.platform.architecture = GetString(*p, "architecture");
    d.platform.variant = GetString(*p, "variant");
  }
  if (auto a = j.find("annotations"); a != j.end() && a->is_object()) {
    for (auto kv = a->begin(); kv != a->end(); ++kv) {
      if (kv->is_string()) d.annotations[kv.key()] = kv->get<std::string>();
    }
  }
  return d;
}

std::string DefaultVariant(const std::string& arch) { return arch == "arm64" ? "v8" : ""; }

}  // namespace

const char* ManifestAcceptHeader() {
  return "Accept: application/vnd.oci.image.index.v1+json, "
         "application/vnd.oci.image.manifest.v1+json, "
         "application/vnd.docker.distribution.manifest.list.v2+json, "
         "application/vnd.docker.distribution.manifest.v2+json";
}

Platform Platform::Host() {
  Platform p{"linux", "amd64", ""};
  struct utsname u;
  if (::uname(&u) == 0) {
    const std::string m = u.machine;
    if (m == "x86_64") p.architecture = "amd64";
    else if (m == "aarch64" || m == "arm64") p = {"linux", "arm64", "v8"};
    else if (m == "armv7l") p = {"linux", "arm", "v7"};
    else if (m == "armv6l") p = {"linux", "arm", "v6"};
    else if (m == "i686" || m == "i386") p.architecture = "386";
    else if (m == "ppc64le" || m == "s390x" || m == "riscv64") p.architecture = m;
    else p.architecture = m;
  }
  return p;
}

std::string Platform::String() const {
  std::string s = absl::StrCat(os, "/", architecture);
  if (!variant.empty()) absl::StrAppend(&s, "/", variant);
  return s;
}

absl::StatusOr<ParsedManifest> ParseManifest(absl::string_view body,
                                             absl::string_view content_type) {
  json j = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("manifest is not a JSON object");
  }
  std::string type = GetString(j, "mediaType");
  if (type.empty()) {
    // Content-Type may carry parameters ("; charset=utf-8").
    type = std::string(content_type.substr(0, content_type.find(';')));
    while (!type.empty() && type.back() == ' ') type.pop_back();
  }
  if (type.empty() || type == "application/json" || type == "text/plain") {
    // OCI allows mediaType to be absent; tell the kinds apart by shape.
    if (j.contains("manifests")) type = media_types::kOciIndex;
    else if (j.contains("layers")) type = media_types::kOciManifest;
  }
  if (auto v = j.find("schemaVersion"); v != j.end() && v->is_number() && v->get<int>() == 1) {
    return absl::InvalidArgumentError(
        "Docker schema 1 manifests are not supported (deprecated since 2017); "
        "re-push the image with a current client");
  }
  ParsedManifest out;
  if (type == media_types::kOciIndex || type == media_types::kDockerList) {
    out.is_index = true;
    out.index.media_type = type;
    auto m = j.find("manifests");
    if (m == j.end() || !m->is_array()) {
      return absl::InvalidArgumentError("image index has no manifests array");
    }
    for (const auto& d : *m) {
      auto desc = ParseDescriptor(d, "index entry");
      if (!desc.ok()) return desc.status();
      out.index.manifests.push_back(*std::move(desc));
    }
    return out;
  }
  if (type == media_types::kOciManifest || type == media_types::kDockerManifest) {
    out.manifest.media_type = type;
    auto config = j.find("config");
    if (config == j.end()) return absl::InvalidArgumentError("manifest has no config");
    auto c = ParseDescriptor(*config, "config");
    if (!c.ok()) return c.status();
    out.manifest.config = *std::move(c);
    auto layers = j.find("layers");
    if (layers == j.end() || !layers->is_array()) {
      return absl::InvalidArgumentError("manifest has no layers array");
    }
    for (const auto& l : *layers) {
      auto desc = ParseDescriptor(l, "layer");
      if (!desc.ok()) return desc.status();
      out.manifest.layers.push_back(*std::move(desc));
    }
    return out;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported manifest media type \"", type, "\""));
}

absl::StatusOr<Descriptor> SelectPlatform(const Index& index, const Platform& want) {
  std::vector<std::string> offered;
  const Descriptor* loose = nullptr;  // os+arch match where the variant is unspecified
  for (const auto& d : index.manifests) {
    if (!d.has_platform) continue;
    offered.push_back(d.platform.String());
    if (d.platform.os != want.os || d.platform.architecture != want.architecture) continue;
    const std::string have_v =
        d.platform.variant.empty() ? DefaultVariant(d.platform.architecture) : d.platform.variant;
    const std::string want_v =
        want.variant.empty() ? DefaultVariant(want.architecture) : want.variant;
    if (have_v == want_v) return d;
    if (have_v.empty() || want_v.empty()) loose = loose ? loose : &d;
  }
  if (loose != nullptr) return *loose;
  return absl::NotFoundError(absl::StrCat(
      "no image for platform ", want.String(), " in the index; it offers: ",
      offered.empty() ? std::string("no platform-tagged manifests") : absl::StrJoin(offered, ", ")));
}

absl::StatusOr<ImageConfig> ParseImageConfig(absl::string_view body) {
  json j = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("image config is not a JSON object");
  }
  ImageConfig out;
  out.os = GetString(j, "os");
  out.architecture = GetString(j, "architecture");
  out.variant = GetString(j, "variant");
  if (std::string created = GetString(j, "created"); !created.empty()) {
    absl::Time t;
    std::string err;
    if (absl::ParseTime(absl::RFC3339_full, created, &t, &err)) out.created = t;
  }
  if (auto c = j.find("config"); c != j.end() && c->is_object()) {
    out.entrypoint = GetStrings(*c, "Entrypoint");
    out.cmd = GetStrings(*c, "Cmd");
    out.env = GetStrings(*c, "Env");
    out.working_dir = GetString(*c, "WorkingDir");
    out.user = GetString(*c, "User");
    out.stop_signal = GetString(*c, "StopSignal");
    out.exposed_ports = GetKeys(*c, "ExposedPorts");
    out.volumes = GetKeys(*c, "Volumes");
    if (auto l = c->find("Labels"); l != c->end() && l->is_object()) {
      for (auto kv = l->begin(); kv != l->end(); ++kv) {
        if (kv->is_string()) out.labels[kv.key()] = kv->get<std::string>();
      }
    }
  }
  auto rootfs = j.find("rootfs");
  if (rootfs == j.end() || !rootfs->is_object()) {
    return absl::InvalidArgumentError("image config has no rootfs");
  }
  out.diff_ids = GetStrings(*rootfs, "diff_ids");
  for (const auto& d : out.diff_ids) {
    if (auto s = ValidateDigest(d); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("image config rootfs.diff_ids: ", s.message()));
    }
  }
  return out;
}

std::vector<std::string> ChainIds(const std::vector<std::string>& diff_ids) {
  std::vector<std::string> out;
  for (const auto& d : diff_ids) {
    out.push_back(out.empty() ? d : DigestOf(absl::StrCat(out.back(), " ", d)));
  }
  return out;
}

}  // namespace zlayer::images
