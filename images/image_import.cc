// ImageStore::ImportImage: an OCI image layout archive, streamed, into the store.
#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

#include <cerrno>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "core/errors.h"
#include "images/store_internal.h"

namespace zlayer::images {
namespace {

constexpr size_t kMaxIndexBytes = 4 << 20;
constexpr char kRefNameAnnotation[] = "org.opencontainers.image.ref.name";
constexpr char kContainerdNameAnnotation[] = "io.containerd.image.name";

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};

absl::Status Bad(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("import: ", why));
}

// Does descriptor `d` carry a name that `ref` matches?
bool NameMatches(const Descriptor& d, const Reference& ref) {
  for (const char* key : {kRefNameAnnotation, kContainerdNameAnnotation}) {
    auto it = d.annotations.find(key);
    if (it == d.annotations.end()) continue;
    const std::string& v = it->second;
    if (v == ref.tag || v == ref.TagOrDigestRef() || v == ref.String()) return true;
    auto parsed = ParseReference(v);
    if (parsed.ok() && parsed->TagOrDigestRef() == ref.TagOrDigestRef()) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<core::ImportResult> ImageStore::ImportImage(const std::string& reference, int fd) {
  std::optional<Reference> ref;
  if (!reference.empty()) {
    AGENTD_ASSIGN_OR_RETURN(ref, ParseReference(reference));
  }
  std::unique_ptr<archive, ArchiveDeleter> a(archive_read_new());
  if (!a) return absl::ResourceExhaustedError("archive_read_new");
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_zstd(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  if (archive_read_open_fd(a.get(), fd, 1 << 17) != ARCHIVE_OK) {
    return Bad(absl::StrCat("not a tar archive: ", archive_error_string(a.get())));
  }

  Leases leases(this);
  bool recorded = false;
  auto cleanup = absl::MakeCleanup([&] {
    if (recorded) return;
    leases.ReleaseAll();
    (void)Collect(std::vector<std::string>{});
  });

  std::string index_json;
  bool have_index = false;
  std::vector<char> buf(1 << 17);
  for (;;) {
    archive_entry* e = nullptr;
    const int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return Bad(absl::StrCat("reading archive: ", archive_error_string(a.get())));
    absl::string_view name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
    while (absl::ConsumePrefix(&name, "./")) {
    }
    if (archive_entry_filetype(e) != AE_IFREG) continue;  // only files carry content
    if (name == "index.json") {
      if (archive_entry_size(e) > static_cast<la_int64_t>(kMaxIndexBytes)) {
        return Bad("index.json is larger than 4 MiB");
      }
      index_json.clear();
      for (la_ssize_t n; (n = archive_read_data(a.get(), buf.data(), buf.size())) > 0;) {
        index_json.append(buf.data(), static_cast<size_t>(n));
      }
      have_index = true;
      continue;
    }
    if (!absl::ConsumePrefix(&name, "blobs/sha256/")) continue;
    const std::string digest = absl::StrCat("sha256:", name);
    if (!ValidateDigest(digest).ok()) return Bad(absl::StrCat("bad blob name blobs/sha256/", name));
    bool present;
    {
      absl::ReaderMutexLock gc(&gc_mu_);
      leases.Add(digest);
      present = blobs_.Has(digest);
    }
    if (present) continue;  // the reader skips the data itself
    auto guard = content_locks_.Lock("blob:" + digest);
    AGENTD_ASSIGN_OR_RETURN(BlobStore::Writer w, blobs_.NewWriter());
    for (;;) {
      const la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
      if (n == 0) break;
      if (n < 0) return Bad(absl::StrCat("reading ", digest, ": ", archive_error_string(a.get())));
      AGENTD_RETURN_IF_ERROR(w.Append(buf.data(), static_cast<size_t>(n)));
    }
    if (auto s = w.Commit(digest, -1); !s.ok()) return Bad(s.message());
  }
  // The tar reader stops at the end-of-archive blocks; read the sender's tail so a
  // writer feeding a pipe is never left blocked (bounded, in case it never ends).
  for (size_t drained = 0; drained < (1 << 20);) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    drained += static_cast<size_t>(n);
  }
  if (!have_index) return Bad("archive has no index.json; is it an OCI image layout?");

  AGENTD_ASSIGN_OR_RETURN(ParsedManifest top, ParseManifest(index_json, media_types::kOciIndex));
  if (!top.is_index) return Bad("index.json is not an image index");
  const auto& all = top.index.manifests;
  const Descriptor* chosen = nullptr;
  if (ref) {
    for (const auto& d : all) {
      if (NameMatches(d, *ref)) {
        chosen = &d;
        break;
      }
    }
  }
  if (chosen == nullptr && all.size() == 1) chosen = &all[0];
  std::optional<Descriptor> by_platform;
  if (chosen == nullptr && !all.empty()) {
    auto d = SelectPlatform(top.index, options_.platform.value_or(Platform::Host()));
    if (d.ok()) {
      by_platform = *d;
      chosen = &*by_platform;
    }
  }
  if (chosen == nullptr) {
    return Bad(absl::StrCat("archive holds ", all.size(),
                            " images and none is named by the reference's tag (",
                            kRefNameAnnotation, ")"));
  }
  if (!ref) {
    for (const char* key : {kContainerdNameAnnotation, kRefNameAnnotation}) {
      auto it = chosen->annotations.find(key);
      if (it == chosen->annotations.end()) continue;
      auto parsed = ParseReference(it->second);
      if (parsed.ok() && absl::StrContains(it->second, '/')) ref = *parsed;
      if (ref) break;
    }
    if (!ref) return Bad("the archive names no full reference; give one");
  }
  const std::string key = StoreKey(*ref);
  const std::string top_digest = chosen->digest;

  auto read_manifest = [&](const std::string& digest) -> absl::StatusOr<ParsedManifest> {
    if (!blobs_.Has(digest)) return Bad(absl::StrCat("archive lacks manifest blob ", digest));
    AGENTD_ASSIGN_OR_RETURN(std::string body, blobs_.Read(digest));
    return ParseManifest(body, "");
  };
  AGENTD_ASSIGN_OR_RETURN(ParsedManifest pm, read_manifest(top_digest));
  std::string manifest_digest = top_digest;
  if (pm.is_index) {
    AGENTD_ASSIGN_OR_RETURN(Descriptor d, SelectPlatform(pm.index, options_.platform.value_or(
                                                                       Platform::Host())));
    manifest_digest = d.digest;
    AGENTD_ASSIGN_OR_RETURN(pm, read_manifest(manifest_digest));
    if (pm.is_index) return Bad("nested image indexes are not supported");
  }
  const Manifest& m = pm.manifest;
  if (!blobs_.Has(m.config.digest)) return Bad(absl::StrCat("archive lacks config ", m.config.digest));
  AGENTD_ASSIGN_OR_RETURN(std::string config_json, blobs_.Read(m.config.digest));
  AGENTD_ASSIGN_OR_RETURN(ImageConfig config, ParseImageConfig(config_json));
  if (config.diff_ids.size() != m.layers.size()) {
    return Bad(absl::StrCat("manifest has ", m.layers.size(), " layers but the config lists ",
                            config.diff_ids.size(), " diff_ids"));
  }
  const std::vector<std::string> chains = ChainIds(config.diff_ids);
  {
    absl::ReaderMutexLock gc(&gc_mu_);
    for (const auto& c : chains) leases.Add(c);
  }
  std::vector<std::string> lowers;
  int64_t unpacked = 0;
  for (size_t i = 0; i < m.layers.size(); ++i) {
    AGENTD_ASSIGN_OR_RETURN(auto snap_row, db_->GetSnapshot(chains[i]));
    if (!(snap_row && snap_row->committed) && !blobs_.Has(m.layers[i].digest)) {
      return Bad(absl::StrCat("archive lacks layer blob ", m.layers[i].digest));
    }
    auto snap = EnsureSnapshot(chains[i], m.layers[i], config.diff_ids[i], lowers);
    if (!snap.ok()) return core::Annotate(snap.status(), "import");
    unpacked += snap->size;
    lowers.insert(lowers.begin(), SnapshotDir(snap->id));
  }
  ManifestRow row;
  row.digest = manifest_digest;
  row.repository = ref->Name();
  row.config_digest = m.config.digest;
  row.media_type = m.media_type;
  row.unpacked_size = unpacked;
  if (config.created) row.created_unix = absl::ToUnixSeconds(*config.created);
  for (size_t i = 0; i < m.layers.size(); ++i) {
    row.layers.push_back(LayerRow{m.layers[i].digest, chains[i], m.layers[i].size});
  }
  AGENTD_RETURN_IF_ERROR(db_->PutImage(ImageRow{key, top_digest, manifest_digest, 0}, row));
  recorded = true;
  base::Logger("images")->info("image imported reference={} digest={} layers={}", key,
                               top_digest, m.layers.size());
  Journal(core::EventKind::kImageImported, key, top_digest);
  return core::ImportResult{key, top_digest};
}

}  // namespace zlayer::images
