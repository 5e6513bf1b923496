// Builds OCI images in memory for the tests: tar layers (including hostile ones the
// real tools refuse to write), configs, manifests, indexes; pushes them to a
// registry over the distribution API and writes OCI layout archives.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace zlayer::images::testing {

struct TarEntry {
  enum class Type { kFile, kDir, kSymlink, kHardlink, kChar, kBlock, kFifo };
  Type type = Type::kFile;
  std::string path;
  std::string data;  // kFile
  std::string link;  // kSymlink, kHardlink
  mode_t mode = 0644;
  uid_t uid = 0;
  gid_t gid = 0;
  unsigned dev_major = 0, dev_minor = 0;
  int64_t mtime = 1700000000;
  std::map<std::string, std::string> xattrs;

  static TarEntry File(std::string path, std::string data, mode_t mode = 0644) {
    TarEntry e;
    e.path = std::move(path);
    e.data = std::move(data);
    e.mode = mode;
    return e;
  }
  static TarEntry Dir(std::string path, mode_t mode = 0755) {
    TarEntry e;
    e.type = Type::kDir;
    e.path = std::move(path);
    e.mode = mode;
    return e;
  }
  static TarEntry Symlink(std::string path, std::string target) {
    TarEntry e;
    e.type = Type::kSymlink;
    e.path = std::move(path);
    e.link = std::move(target);
    e.mode = 0777;
    return e;
  }
  static TarEntry Hardlink(std::string path, std::string target) {
    TarEntry e;
    e.type = Type::kHardlink;
    e.path = std::move(path);
    e.link = std::move(target);
    return e;
  }
};

enum class Compression { kNone, kGzip, kZstd };

// A tar stream (pax format) holding exactly these entries, names unsanitised.
std::string MakeTar(const std::vector<TarEntry>& entries);
std::string Compress(const std::string& data, Compression c);
std::string Sha256Digest(const std::string& data);

struct Blob {
  std::string digest;
  std::string media_type;
  std::string data;
};

struct BuiltImage {
  Blob manifest;
  Blob config;
  std::vector<Blob> layers;
};

struct ImageSpec {
  std::string os = "linux";
  std::string architecture = "amd64";
  std::string variant;
  std::vector<std::string> cmd = {"/bin/sh"};
  std::vector<std::string> env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  std::map<std::string, std::string> labels;
  bool docker_media_types = false;  // Docker v2 instead of OCI
};

class ImageBuilder {
 public:
  explicit ImageBuilder(ImageSpec spec = {}) : spec_(std::move(spec)) {}
  // Adds a layer from entries; returns *this.
  ImageBuilder& Layer(const std::vector<TarEntry>& entries, Compression c = Compression::kGzip);
  // Adds a layer from a ready tar stream.
  ImageBuilder& RawLayer(const std::string& tar, Compression c = Compression::kGzip);
  // Makes the config claim other uncompressed content for the last layer.
  ImageBuilder& OverrideLastDiffId(std::string diff_id) {
    layers_.back().second = std::move(diff_id);
    return *this;
  }
  BuiltImage Build() const;

 private:
  ImageSpec spec_;
  std::vector<std::pair<Blob, std::string>> layers_;  // blob, diff_id
};

// An index of platform images.
Blob BuildIndex(const std::vector<std::pair<const BuiltImage*, ImageSpec>>& images,
                bool docker_media_types = false);

// Pushes to a registry at `base_url` ("http://127.0.0.1:5000"). `auth_header` is a
// full "Authorization: ..." line or empty. `ca_file` for TLS.
struct PushTarget {
  std::string base_url;
  std::string auth_header;
  std::string ca_file;
};
absl::Status PushBlob(const PushTarget& t, const std::string& repo, const Blob& blob);
absl::Status PushManifest(const PushTarget& t, const std::string& repo, const std::string& tag,
                          const Blob& manifest);
absl::Status PushImage(const PushTarget& t, const std::string& repo, const std::string& tag,
                       const BuiltImage& image);

// An OCI image layout as a tar archive: images named by the ref.name annotation.
std::string OciLayoutTar(const std::vector<std::pair<const BuiltImage*, std::string>>& images);

// Fetches a bearer token from the test token server.
absl::StatusOr<std::string> FetchToken(const std::string& realm, const std::string& service,
                                       const std::string& scope, const std::string& user,
                                       const std::string& password);

}  // namespace zlayer::images::testing
