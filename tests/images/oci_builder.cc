#include "oci_builder.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "images/digest.h"
#include "images/http_client.h"

namespace zlayer::images::testing {
namespace {

using nlohmann::json;

la_ssize_t AppendCb(archive*, void* user, const void* buf, size_t len) {
  static_cast<std::string*>(user)->append(static_cast<const char*>(buf), len);
  return static_cast<la_ssize_t>(len);
}

void Check(int rc, archive* a, const char* what) {
  if (rc < ARCHIVE_WARN) {
    throw std::runtime_error(absl::StrCat(what, ": ", archive_error_string(a)));
  }
}

std::string WriteArchive(const std::vector<TarEntry>& entries, Compression c, bool raw) {
  std::string out;
  archive* a = archive_write_new();
  if (raw) {
    Check(archive_write_set_format_raw(a), a, "format raw");
  } else {
    Check(archive_write_set_format_pax_restricted(a), a, "format pax");
  }
  if (c == Compression::kGzip) {
    Check(archive_write_add_filter_gzip(a), a, "gzip");
    archive_write_set_options(a, "gzip:!timestamp");  // same bytes every build
  }
  if (c == Compression::kZstd) Check(archive_write_add_filter_zstd(a), a, "zstd");
  if (c == Compression::kNone) archive_write_add_filter_none(a);
  archive_write_set_bytes_in_last_block(a, 1);
  Check(archive_write_open(a, &out, nullptr, &AppendCb, nullptr), a, "open");
  for (const auto& t : entries) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, t.path.c_str());
    archive_entry_set_uid(e, t.uid);
    archive_entry_set_gid(e, t.gid);
    archive_entry_set_perm(e, t.mode);
    archive_entry_set_mtime(e, t.mtime, 0);
    for (const auto& [k, v] : t.xattrs) archive_entry_xattr_add_entry(e, k.c_str(), v.data(), v.size());
    switch (t.type) {
      case TarEntry::Type::kFile:
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_size(e, static_cast<la_int64_t>(t.data.size()));
        break;
      case TarEntry::Type::kDir:
        archive_entry_set_filetype(e, AE_IFDIR);
        break;
      case TarEntry::Type::kSymlink:
        archive_entry_set_filetype(e, AE_IFLNK);
        archive_entry_set_symlink(e, t.link.c_str());
        break;
      case TarEntry::Type::kHardlink:
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_hardlink(e, t.link.c_str());
        archive_entry_set_size(e, 0);
        break;
      case TarEntry::Type::kChar:
      case TarEntry::Type::kBlock:
        archive_entry_set_filetype(e, t.type == TarEntry::Type::kChar ? AE_IFCHR : AE_IFBLK);
        archive_entry_set_rdevmajor(e, t.dev_major);
        archive_entry_set_rdevminor(e, t.dev_minor);
        break;
      case TarEntry::Type::kFifo:
        archive_entry_set_filetype(e, AE_IFIFO);
        break;
    }
    Check(archive_write_header(a, e), a, "header");
    if (!t.data.empty()) {
      if (archive_write_data(a, t.data.data(), t.data.size()) < 0) Check(ARCHIVE_FATAL, a, "data");
    }
    archive_entry_free(e);
  }
  Check(archive_write_close(a), a, "close");
  archive_write_free(a);
  return out;
}

std::string LayerMediaType(Compression c, bool docker) {
  if (docker) {
    return c == Compression::kNone ? "application/vnd.docker.image.rootfs.diff.tar"
                                   : "application/vnd.docker.image.rootfs.diff.tar.gzip";
  }
  switch (c) {
    case Compression::kNone: return "application/vnd.oci.image.layer.v1.tar";
    case Compression::kGzip: return "application/vnd.oci.image.layer.v1.tar+gzip";
    case Compression::kZstd: return "application/vnd.oci.image.layer.v1.tar+zstd";
  }
  return "";
}

json Descriptor(const Blob& b) {
  return json{{"mediaType", b.media_type}, {"digest", b.digest},
              {"size", static_cast<int64_t>(b.data.size())}};
}

std::shared_ptr<const TlsTrust> Trust(const std::string& ca) {
  auto t = TlsTrust::Load(ca);
  if (!t.ok()) throw std::runtime_error(std::string(t.status().message()));
  return *t;
}

absl::StatusOr<HttpResponse> Send(const PushTarget& t, HttpRequest req) {
  if (!absl::StartsWith(req.url, "http")) req.url = t.base_url + req.url;
  if (!t.auth_header.empty()) req.headers.push_back(t.auth_header);
  HttpClient http(Trust(t.ca_file));
  return http.Do(req);
}

}  // namespace

std::string MakeTar(const std::vector<TarEntry>& entries) {
  return WriteArchive(entries, Compression::kNone, false);
}

std::string Compress(const std::string& data, Compression c) {
  if (c == Compression::kNone) return data;
  std::string out;
  archive* a = archive_write_new();
  archive_write_set_format_raw(a);
  if (c == Compression::kGzip) {
    archive_write_add_filter_gzip(a);
    archive_write_set_options(a, "gzip:!timestamp");
  }
  if (c == Compression::kZstd) archive_write_add_filter_zstd(a);
  archive_write_set_bytes_in_last_block(a, 1);
  Check(archive_write_open(a, &out, nullptr, &AppendCb, nullptr), a, "open");
  archive_entry* e = archive_entry_new();
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_pathname(e, "data");
  Check(archive_write_header(a, e), a, "header");
  if (!data.empty() && archive_write_data(a, data.data(), data.size()) < 0) {
    Check(ARCHIVE_FATAL, a, "data");
  }
  archive_entry_free(e);
  Check(archive_write_close(a), a, "close");
  archive_write_free(a);
  return out;
}

std::string Sha256Digest(const std::string& data) { return DigestOf(data); }

ImageBuilder& ImageBuilder::Layer(const std::vector<TarEntry>& entries, Compression c) {
  return RawLayer(MakeTar(entries), c);
}

ImageBuilder& ImageBuilder::RawLayer(const std::string& tar, Compression c) {
  Blob b;
  b.data = Compress(tar, c);
  b.digest = DigestOf(b.data);
  b.media_type = LayerMediaType(c, spec_.docker_media_types);
  layers_.emplace_back(std::move(b), DigestOf(tar));
  return *this;
}

BuiltImage ImageBuilder::Build() const {
  BuiltImage img;
  json diff_ids = json::array();
  for (const auto& [blob, diff] : layers_) {
    img.layers.push_back(blob);
    diff_ids.push_back(diff);
  }
  json labels = json::object();
  for (const auto& [k, v] : spec_.labels) labels[k] = v;
  json config = {{"architecture", spec_.architecture},
                 {"os", spec_.os},
                 {"created", "2024-01-02T03:04:05Z"},
                 {"config",
                  {{"Cmd", spec_.cmd},
                   {"Env", spec_.env},
                   {"WorkingDir", "/"},
                   {"Labels", labels},
                   {"ExposedPorts", {{"80/tcp", json::object()}}}}},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
  if (!spec_.variant.empty()) config["variant"] = spec_.variant;
  img.config.data = config.dump();
  img.config.digest = DigestOf(img.config.data);
  img.config.media_type = spec_.docker_media_types
                              ? "application/vnd.docker.container.image.v1+json"
                              : "application/vnd.oci.image.config.v1+json";
  json layers = json::array();
  for (const auto& l : img.layers) layers.push_back(Descriptor(l));
  img.manifest.media_type = spec_.docker_media_types
                                ? "application/vnd.docker.distribution.manifest.v2+json"
                                : "application/vnd.oci.image.manifest.v1+json";
  json manifest = {{"schemaVersion", 2},
                   {"mediaType", img.manifest.media_type},
                   {"config", Descriptor(img.config)},
                   {"layers", layers}};
  img.manifest.data = manifest.dump();
  img.manifest.digest = DigestOf(img.manifest.data);
  return img;
}

Blob BuildIndex(const std::vector<std::pair<const BuiltImage*, ImageSpec>>& images, bool docker) {
  json manifests = json::array();
  for (const auto& [img, spec] : images) {
    json d = Descriptor(img->manifest);
    d["platform"] = {{"os", spec.os}, {"architecture", spec.architecture}};
    if (!spec.variant.empty()) d["platform"]["variant"] = spec.variant;
    manifests.push_back(d);
  }
  Blob b;
  b.media_type = docker ? "application/vnd.docker.distribution.manifest.list.v2+json"
                        : "application/vnd.oci.image.index.v1+json";
  b.data = json{{"schemaVersion", 2}, {"mediaType", b.media_type}, {"manifests", manifests}}.dump();
  b.digest = DigestOf(b.data);
  return b;
}

absl::Status PushBlob(const PushTarget& t, const std::string& repo, const Blob& blob) {
  HttpRequest start;
  start.method = "POST";
  start.url = absl::StrCat("/v2/", repo, "/blobs/uploads/");
  auto r = Send(t, start);
  if (!r.ok()) return r.status();
  if (r->status != 202) {
    return absl::InternalError(absl::StrCat("start upload: HTTP ", r->status, " ", r->body));
  }
  std::string location = r->Header("location");
  HttpRequest put;
  put.method = "PUT";
  put.url = absl::StrCat(location, absl::StrContains(location, '?') ? "&" : "?",
                         "digest=", blob.digest);
  put.body = blob.data;
  put.headers.push_back("Content-Type: application/octet-stream");
  r = Send(t, put);
  if (!r.ok()) return r.status();
  if (r->status != 201) {
    return absl::InternalError(absl::StrCat("finish upload: HTTP ", r->status, " ", r->body));
  }
  return absl::OkStatus();
}

absl::Status PushManifest(const PushTarget& t, const std::string& repo, const std::string& tag,
                          const Blob& manifest) {
  HttpRequest put;
  put.method = "PUT";
  put.url = absl::StrCat("/v2/", repo, "/manifests/", tag);
  put.body = manifest.data;
  put.headers.push_back("Content-Type: " + manifest.media_type);
  auto r = Send(t, put);
  if (!r.ok()) return r.status();
  if (r->status != 201) {
    return absl::InternalError(absl::StrCat("put manifest: HTTP ", r->status, " ", r->body));
  }
  return absl::OkStatus();
}

absl::Status PushImage(const PushTarget& t, const std::string& repo, const std::string& tag,
                       const BuiltImage& image) {
  for (const auto& l : image.layers) {
    if (auto s = PushBlob(t, repo, l); !s.ok()) return s;
  }
  if (auto s = PushBlob(t, repo, image.config); !s.ok()) return s;
  return PushManifest(t, repo, tag, image.manifest);
}

std::string OciLayoutTar(const std::vector<std::pair<const BuiltImage*, std::string>>& images) {
  std::vector<TarEntry> entries;
  entries.push_back(TarEntry::File("oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
  json manifests = json::array();
  std::map<std::string, const Blob*> blobs;
  for (const auto& [img, name] : images) {
    json d = Descriptor(img->manifest);
    if (!name.empty()) d["annotations"] = {{"org.opencontainers.image.ref.name", name}};
    manifests.push_back(d);
    blobs[img->manifest.digest] = &img->manifest;
    blobs[img->config.digest] = &img->config;
    for (const auto& l : img->layers) blobs[l.digest] = &l;
  }
  entries.push_back(TarEntry::Dir("blobs"));
  entries.push_back(TarEntry::Dir("blobs/sha256"));
  for (const auto& [digest, blob] : blobs) {
    entries.push_back(TarEntry::File(absl::StrCat("blobs/sha256/", digest.substr(7)), blob->data));
  }
  entries.push_back(TarEntry::File(
      "index.json", json{{"schemaVersion", 2}, {"manifests", manifests}}.dump()));
  return MakeTar(entries);
}

absl::StatusOr<std::string> FetchToken(const std::string& realm, const std::string& service,
                                       const std::string& scope, const std::string& user,
                                       const std::string& password) {
  HttpRequest req;
  req.url = absl::StrCat(realm, "?service=", service, "&scope=", scope);
  if (!user.empty()) {
    std::string b64;
    absl::Base64Escape(absl::StrCat(user, ":", password), &b64);
    req.headers.push_back("Authorization: Basic " + b64);
  }
  HttpClient http(Trust(""));
  auto r = http.Do(req);
  if (!r.ok()) return r.status();
  if (r->status != 200) return absl::PermissionDeniedError(absl::StrCat("token: HTTP ", r->status));
  auto j = json::parse(r->body, nullptr, false);
  if (!j.is_object() || !j.contains("token")) return absl::InternalError("token: no token");
  return j["token"].get<std::string>();
}

}  // namespace zlayer::images::testing
