// ImageStore: opening and recovery, local lookups, list/remove/tag/prune, users,
// and snapshot creation. Pulls are in image_pull.cc, imports in image_import.cc.
#include "images/image_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/fs_util.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "base/unique_fd.h"
#include "core/errors.h"
#include "images/store_internal.h"
#include "images/unpack.h"

namespace zlayer::images {
namespace {

bool IsDir(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

ImageStore::ImageStore(StoreOptions options, std::unique_ptr<MetadataDb> db,
                       std::shared_ptr<const TlsTrust> trust)
    : options_(std::move(options)),
      db_(std::move(db)),
      blobs_(options_.root),
      trust_(std::move(trust)) {}

ImageStore::~ImageStore() = default;

absl::StatusOr<std::unique_ptr<ImageStore>> ImageStore::Open(StoreOptions options) {
  if (options.root.empty() || options.root.front() != '/') {
    return absl::InvalidArgumentError("image store root must be an absolute path");
  }
  while (options.root.size() > 1 && options.root.back() == '/') options.root.pop_back();
  AGENTD_RETURN_IF_ERROR(base::MakeDirs(options.root, 0700));
  AGENTD_ASSIGN_OR_RETURN(auto trust, TlsTrust::Load(options.registries.ca_file));
  AGENTD_ASSIGN_OR_RETURN(auto db, MetadataDb::Open(options.root + "/metadata.db"));
  EnsureCurlInitialised();
  std::unique_ptr<ImageStore> store(new ImageStore(std::move(options), std::move(db),
                                                   std::move(trust)));
  AGENTD_RETURN_IF_ERROR(store->Recover());
  return store;
}

std::string ImageStore::SnapshotDir(int64_t id) const {
  return absl::StrCat(options_.root, "/snapshots/", id);
}

std::string ImageStore::StoreKey(const Reference& ref) {
  return ref.digest.empty() ? absl::StrCat(ref.Name(), ":", ref.tag)
                            : absl::StrCat(ref.Name(), "@", ref.digest);
}

absl::Status ImageStore::Recover() {
  auto log = base::Logger("images");
  AGENTD_RETURN_IF_ERROR(blobs_.Init());
  const std::string tmp = options_.root + "/tmp";
  AGENTD_RETURN_IF_ERROR(base::RemoveTree(tmp));
  AGENTD_RETURN_IF_ERROR(base::MakeDirs(tmp, 0700));
  const std::string snaps_dir = options_.root + "/snapshots";
  AGENTD_RETURN_IF_ERROR(base::MakeDirs(snaps_dir, 0700));

  absl::flat_hash_set<int64_t> known;
  AGENTD_ASSIGN_OR_RETURN(auto snaps, db_->ListSnapshots());
  for (const auto& s : snaps) {
    const std::string dir = SnapshotDir(s.id);
    if (!s.committed || !IsDir(dir)) {
      // Interrupted between reserving the row and committing it (or the directory
      // was lost): neither half is usable.
      log->info("removing unfinished snapshot id={} chain_id={}", s.id, s.chain_id);
      AGENTD_RETURN_IF_ERROR(base::RemoveTree(dir));
      AGENTD_RETURN_IF_ERROR(db_->DeleteSnapshot(s.id));
      continue;
    }
    known.insert(s.id);
  }
  DIR* d = ::opendir(snaps_dir.c_str());
  if (d == nullptr) return core::ErrnoError(absl::StrCat("open ", snaps_dir));
  std::vector<std::string> strays;
  while (struct dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    int64_t id = 0;
    if (!absl::SimpleAtoi(name, &id) || !known.contains(id)) strays.push_back(name);
  }
  ::closedir(d);
  for (const auto& name : strays) {
    log->info("removing stray snapshot directory name={}", name);
    AGENTD_RETURN_IF_ERROR(base::RemoveTree(absl::StrCat(snaps_dir, "/", name)));
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> ImageStore::ManifestComplete(const ManifestRow& m) {
  if (!blobs_.Has(m.config_digest)) return false;
  for (const auto& l : m.layers) {
    AGENTD_ASSIGN_OR_RETURN(auto snap, db_->GetSnapshot(l.chain_id));
    if (!snap || !snap->committed || !IsDir(SnapshotDir(snap->id))) return false;
  }
  return true;
}

absl::StatusOr<std::optional<ImageRow>> ImageStore::FindLocal(const Reference& ref) {
  AGENTD_ASSIGN_OR_RETURN(auto row, db_->GetImage(StoreKey(ref)));
  if (!row && !ref.digest.empty()) {
    AGENTD_ASSIGN_OR_RETURN(row, db_->FindImageByDigest(ref.digest));
  }
  if (!row) return row;
  AGENTD_ASSIGN_OR_RETURN(auto m, db_->GetManifest(row->manifest_digest));
  if (!m) return std::optional<ImageRow>();
  AGENTD_ASSIGN_OR_RETURN(bool complete, ManifestComplete(*m));
  if (!complete) return std::optional<ImageRow>();
  return row;
}

absl::StatusOr<ResolvedImage> ImageStore::Resolve(const std::string& reference) {
  AGENTD_ASSIGN_OR_RETURN(Reference ref, ParseReference(reference));
  AGENTD_ASSIGN_OR_RETURN(auto row, FindLocal(ref));
  if (!row) {
    return absl::NotFoundError(
        absl::StrCat("image ", ref.String(), " is not in the local store; pull it first"));
  }
  AGENTD_ASSIGN_OR_RETURN(auto m, db_->GetManifest(row->manifest_digest));
  if (!m) return absl::NotFoundError(absl::StrCat("image ", ref.String(), " lost its manifest"));
  AGENTD_ASSIGN_OR_RETURN(std::string config_json, blobs_.Read(m->config_digest));
  ResolvedImage out;
  out.reference = row->reference.empty() ? ref.String() : row->reference;
  out.manifest_digest = m->digest;
  out.config_digest = m->config_digest;
  AGENTD_ASSIGN_OR_RETURN(out.config, ParseImageConfig(config_json));
  for (const auto& l : m->layers) {
    AGENTD_ASSIGN_OR_RETURN(auto snap, db_->GetSnapshot(l.chain_id));
    if (!snap || !snap->committed) {
      return absl::NotFoundError(absl::StrCat("image ", ref.String(), " is missing layer ",
                                              l.layer_digest, "; pull it again"));
    }
    out.layer_dirs.push_back(SnapshotDir(snap->id));
  }
  return out;
}

absl::StatusOr<std::vector<core::ImageInfo>> ImageStore::ListImages() {
  AGENTD_ASSIGN_OR_RETURN(auto rows, db_->ListImages());
  std::vector<core::ImageInfo> out;
  for (const auto& r : rows) {
    core::ImageInfo info;
    info.reference = r.reference;
    info.digest = r.top_digest;
    AGENTD_ASSIGN_OR_RETURN(auto m, db_->GetManifest(r.manifest_digest));
    if (m) {
      info.size_bytes = static_cast<uint64_t>(m->unpacked_size);
      if (m->created_unix) info.created_at = absl::FromUnixSeconds(*m->created_unix);
    }
    AGENTD_ASSIGN_OR_RETURN(int64_t users, db_->CountUsers(r.manifest_digest));
    info.containers = static_cast<uint32_t>(users);
    out.push_back(std::move(info));
  }
  return out;
}

void ImageStore::Journal(core::EventKind kind, std::string image, std::string message) const {
  if (options_.events == nullptr) return;
  options_.events->Record({.kind = kind, .image = std::move(image), .message = std::move(message)});
}

absl::Status ImageStore::RemoveImage(const std::string& reference, bool force) {
  AGENTD_ASSIGN_OR_RETURN(Reference ref, ParseReference(reference));
  const std::string key = StoreKey(ref);
  AGENTD_ASSIGN_OR_RETURN(auto row, db_->GetImage(key));
  if (!row) return absl::NotFoundError(absl::StrCat("image ", key, " is not in the store"));
  AGENTD_ASSIGN_OR_RETURN(int64_t users, db_->CountUsers(row->manifest_digest));
  if (users > 0 && !force) {
    return absl::FailedPreconditionError(absl::StrCat(
        "image ", key, " is used by ", users, users == 1 ? " container" : " containers",
        "; remove them first or force the removal"));
  }
  AGENTD_RETURN_IF_ERROR(db_->DeleteImage(key));
  base::Logger("images")->info("image removed reference={} digest={} force={}", key,
                               row->top_digest, force);
  Journal(core::EventKind::kImageRemoved, key, row->top_digest);
  return Collect(std::vector<std::string>{row->manifest_digest}).status();
}

absl::StatusOr<core::PruneResult> ImageStore::PruneImages() {
  auto result = Collect(std::nullopt);
  if (result.ok() && !result->deleted.empty()) {
    Journal(
        core::EventKind::kImagePruned, "",
        absl::StrCat("deleted ", result->deleted.size(), " (", absl::StrJoin(result->deleted, ", "),
                     "); reclaimed ", result->space_reclaimed, " bytes"));
  }
  return result;
}

absl::StatusOr<core::PruneResult> ImageStore::Collect(
    std::optional<std::vector<std::string>> only) {
  absl::WriterMutexLock gc(&gc_mu_);
  absl::flat_hash_set<std::string> leased;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [k, n] : leases_) leased.insert(k);
  }
  absl::flat_hash_set<std::string> candidates;
  if (only) candidates.insert(only->begin(), only->end());
  AGENTD_ASSIGN_OR_RETURN(auto live_list, db_->LiveManifests());
  absl::flat_hash_set<std::string> live(live_list.begin(), live_list.end());
  core::PruneResult result;
  AGENTD_ASSIGN_OR_RETURN(auto manifests, db_->ListManifests());
  std::vector<ManifestRow> kept;
  for (auto& m : manifests) {
    const bool may_go = !live.contains(m.digest) && !leased.contains(m.digest) &&
                        (!only || candidates.contains(m.digest));
    if (!may_go) {
      kept.push_back(std::move(m));
      continue;
    }
    AGENTD_RETURN_IF_ERROR(db_->DeleteManifest(m.digest));
    result.deleted.push_back(absl::StrCat(m.repository, "@", m.digest));
  }
  absl::flat_hash_set<std::string> keep_blobs = leased;
  absl::flat_hash_set<std::string> keep_chains = leased;
  for (const auto& m : kept) {
    keep_blobs.insert(m.digest);
    keep_blobs.insert(m.config_digest);
    for (const auto& l : m.layers) {
      keep_blobs.insert(l.layer_digest);
      keep_chains.insert(l.chain_id);
    }
  }
  AGENTD_ASSIGN_OR_RETURN(auto images, db_->ListImages());
  for (const auto& i : images) keep_blobs.insert(i.top_digest);
  for (const auto& digest : blobs_.List()) {
    if (keep_blobs.contains(digest)) continue;
    auto size = blobs_.SizeOf(digest);
    AGENTD_RETURN_IF_ERROR(blobs_.Remove(digest));
    if (size.ok()) result.space_reclaimed += *size;
  }
  AGENTD_ASSIGN_OR_RETURN(auto snaps, db_->ListSnapshots());
  for (const auto& s : snaps) {
    if (!s.committed || keep_chains.contains(s.chain_id)) continue;
    const std::string dir = SnapshotDir(s.id);
    const uint64_t usage = base::DiskUsage(dir);
    // Row first: a crash before the directory goes leaves a stray directory, which
    // Open() removes, never a row pointing at a half-deleted tree.
    AGENTD_RETURN_IF_ERROR(db_->DeleteSnapshot(s.id));
    AGENTD_RETURN_IF_ERROR(base::RemoveTree(dir));
    result.space_reclaimed += usage;
  }
  if (!result.deleted.empty() || result.space_reclaimed > 0) {
    base::Logger("images")->info("images collected deleted={} bytes={}", result.deleted.size(),
                                 result.space_reclaimed);
  }
  return result;
}

absl::Status ImageStore::TagImage(const std::string& source, const std::string& target) {
  AGENTD_ASSIGN_OR_RETURN(Reference src, ParseReference(source));
  AGENTD_ASSIGN_OR_RETURN(Reference dst, ParseReference(target));
  if (!dst.digest.empty() || !dst.tag_explicit) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tag target \"", target,
        "\" must be a full reference with a tag and no digest, e.g. registry.example/app:v1"));
  }
  AGENTD_ASSIGN_OR_RETURN(auto row, FindLocal(src));
  if (!row) return absl::NotFoundError(absl::StrCat("image ", src.String(), " is not in the store"));
  AGENTD_RETURN_IF_ERROR(db_->CopyImage(*row, StoreKey(dst)));
  Journal(core::EventKind::kImageTagged, StoreKey(dst), absl::StrCat("from ", StoreKey(src)));
  return absl::OkStatus();
}

absl::Status ImageStore::AddUser(const std::string& container_key,
                                 const std::string& manifest_digest) {
  // Shared with collection: either it ran before (and NOT_FOUND tells the caller
  // to resolve again) or it runs after and sees this user.
  absl::ReaderMutexLock gc(&gc_mu_);
  AGENTD_ASSIGN_OR_RETURN(auto m, db_->GetManifest(manifest_digest));
  if (!m) {
    return absl::NotFoundError(absl::StrCat("image manifest ", manifest_digest,
                                            " is not in the store"));
  }
  return db_->AddUser(container_key, manifest_digest);
}

absl::Status ImageStore::RemoveUser(const std::string& container_key) {
  return db_->RemoveUser(container_key);
}

absl::StatusOr<SnapshotRow> ImageStore::EnsureSnapshot(
    const std::string& chain_id, const Descriptor& layer, const std::string& diff_id,
    const std::vector<std::string>& lowers_top_first) {
  auto guard = content_locks_.Lock("chain:" + chain_id);
  AGENTD_ASSIGN_OR_RETURN(auto existing, db_->GetSnapshot(chain_id));
  if (existing) {
    if (existing->committed && IsDir(SnapshotDir(existing->id))) return *existing;
    AGENTD_RETURN_IF_ERROR(db_->DeleteSnapshot(existing->id));
  }
  AGENTD_ASSIGN_OR_RETURN(int64_t id, db_->ReserveSnapshot(chain_id, layer.digest));
  const std::string tmp = absl::StrCat(options_.root, "/tmp/", id);
  // Until committed, a failure anywhere removes both halves.
  bool committed = false;
  auto cleanup = absl::MakeCleanup([&] {
    if (committed) return;
    (void)base::RemoveTree(tmp);
    (void)base::RemoveTree(SnapshotDir(id));
    (void)db_->DeleteSnapshot(id);
  });
  AGENTD_RETURN_IF_ERROR(base::RemoveTree(tmp));
  if (::mkdir(tmp.c_str(), 0755) != 0) return core::ErrnoError(absl::StrCat("mkdir ", tmp));
  base::UniqueFd blob(::open(blobs_.PathOf(layer.digest).c_str(), O_RDONLY | O_CLOEXEC));
  if (!blob) return core::ErrnoError(absl::StrCat("open layer blob ", layer.digest));
  UnpackOptions opts;
  opts.max_bytes = options_.registries.max_layer_bytes;
  opts.allow_devices = options_.allow_device_nodes;
  opts.lower_dirs = lowers_top_first;
  auto res = UnpackLayer(blob.get(), tmp, opts);
  if (!res.ok()) return core::Annotate(res.status(), absl::StrCat("layer ", layer.digest));
  if (res->diff_id != diff_id) {
    return absl::InvalidArgumentError(absl::StrCat(
        "layer ", layer.digest, " uncompresses to ", res->diff_id,
        " but the image config lists diff_id ", diff_id));
  }
  if (options_.sync_snapshots) {
    base::UniqueFd dir(::open(tmp.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir || ::syncfs(dir.get()) != 0) return core::ErrnoError("syncfs snapshot");
  }
  if (::rename(tmp.c_str(), SnapshotDir(id).c_str()) != 0) {
    return core::ErrnoError(absl::StrCat("rename snapshot ", id));
  }
  AGENTD_RETURN_IF_ERROR(db_->CommitSnapshot(id, res->diff_id,
                                             static_cast<int64_t>(res->content_bytes)));
  committed = true;
  SnapshotRow row{id, chain_id, layer.digest, res->diff_id,
                  static_cast<int64_t>(res->content_bytes), true};
  return row;
}

}  // namespace zlayer::images
