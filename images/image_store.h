// The image store: pulls from OCI registries, imports OCI layout archives, keeps
// blobs by digest and layers as snapshots, and answers what backends ask of it.
//
// Layout under StoreOptions::root (see docs/images.md):
//   metadata.db         SQLite (WAL): references, manifests, snapshots, users
//   blobs/sha256/<hex>  verified content: layers, configs, manifests, indexes
//   snapshots/<id>/     one unpacked layer each, never written after commit
//   ingest/, tmp/       work in progress; emptied by Open()
//
// Thread-safe. Every method blocks (network, disk): call from a WorkQueue, never
// from a gRPC reaction.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/events.h"
#include "core/image_service.h"
#include "core/types.h"
#include "images/blob_store.h"
#include "images/http_client.h"
#include "images/keyed_locks.h"
#include "images/manifest.h"
#include "images/metadata_db.h"
#include "images/progress.h"
#include "images/reference.h"
#include "images/registry_config.h"

namespace zlayer::images {

class RegistryClient;

struct StoreOptions {
  // Everything of the store lives under it, e.g. <data_dir>/images. Keep it short:
  // snapshot paths become overlay mount options.
  std::string root;
  images::RegistryConfig registries;
  // The platform picked from multi-arch indexes; default: this host.
  std::optional<Platform> platform;
  // Allow character and block devices in layers (refused by default).
  bool allow_device_nodes = false;
  // Per-download bandwidth cap in bytes/s; 0 = none.
  uint64_t max_download_bytes_per_sec = 0;
  // Attempts per blob for transient failures (connection lost, 5xx, 429).
  int blob_attempts = 3;
  // syncfs() each snapshot before recording it, so a power loss cannot leave a
  // recorded snapshot with empty files. Tests may turn it off for speed.
  bool sync_snapshots = true;
  // Where pulls, imports, tags, removals and prunes are reported; may be null.
  core::EventSink* events = nullptr;
};

struct ResolvedImage {
  std::string reference;        // canonical, e.g. docker.io/library/busybox:latest
  std::string manifest_digest;  // the platform manifest (what AddUser takes)
  std::string config_digest;
  ImageConfig config;
  // Absolute, read-only snapshot directories, bottom layer first.
  std::vector<std::string> layer_dirs;
};

// The image half of the contract (core::ImageService) for real containers, plus
// what backends need to build a rootfs from an image (Resolve, AddUser, RemoveUser).
class ImageStore final : public core::ImageService {
 public:
  // Creates or opens the store at options.root and recovers from a crash: partial
  // downloads and unfinished snapshots are removed, and so are snapshot
  // directories the metadata does not know. INVALID_ARGUMENT for a bad CA file.
  static absl::StatusOr<std::unique_ptr<ImageStore>> Open(StoreOptions options);
  ~ImageStore() override;
  ImageStore(const ImageStore&) = delete;
  ImageStore& operator=(const ImageStore&) = delete;

  // Pulls `request.image` under its policy: kAlways resolves the tag again,
  // kIfNotPresent touches no network when the image is here, kNever fails with
  // NOT_FOUND when it is not. Concurrent pulls of one reference share one download;
  // `progress` (may be empty) gets per-layer updates, throttled, then status lines
  // ending with the digest. Codes: INVALID_ARGUMENT (bad reference, hostile or
  // corrupt content), NOT_FOUND (no such image or platform), PERMISSION_DENIED
  // (registry refused us), UNAVAILABLE (network, 5xx), RESOURCE_EXHAUSTED (disk,
  // layer size bound). A failed pull leaves nothing behind.
  absl::StatusOr<core::PullResult> PullImage(const core::PullRequest& request,
                                             const core::PullProgressFn& progress) override;

  // Imports an OCI image layout archive (tar, optionally gzip/zstd) read from
  // `oci_layout_tar_fd` until EOF. The manifest is chosen by the ref.name
  // annotation matching `reference`'s tag, else the only one (or the one for this
  // platform). `reference` names the result; it may be empty when the archive
  // names a full reference itself.
  absl::StatusOr<core::ImportResult> ImportImage(const std::string& reference,
                                                 int oci_layout_tar_fd) override;

  // Every reference: digest (what it resolved to), unpacked size, container count.
  absl::StatusOr<std::vector<core::ImageInfo>> ListImages() override;

  // Removes a reference; its content goes too unless another reference or a
  // container still needs it. FAILED_PRECONDITION while a container uses the image,
  // unless `force` (the content then stays until the last user is gone and Prune
  // runs). NOT_FOUND when the reference is not here.
  absl::Status RemoveImage(const std::string& reference, bool force) override;

  // Removes dangling images (manifests no reference names and no container uses,
  // e.g. left behind when an Always pull moved a tag), then every blob and snapshot
  // nothing refers to. Reports the images as repository@digest and the bytes freed.
  absl::StatusOr<core::PruneResult> PruneImages() override;

  // Points `target` at the image `source` names. NOT_FOUND when the source is not
  // here; INVALID_ARGUMENT unless the target has an explicit tag and no digest.
  absl::Status TagImage(const std::string& source, const std::string& target) override;

  // For backends: what a local image is, without touching the network. NOT_FOUND
  // when absent or when its content is incomplete (pull it again).
  absl::StatusOr<ResolvedImage> Resolve(const std::string& reference);

  // Records that a container uses a manifest, so Remove refuses and Prune keeps it.
  // NOT_FOUND for an unknown manifest. Idempotent.
  absl::Status AddUser(const std::string& container_key, const std::string& manifest_digest);
  // Idempotent: an unknown key is fine.
  absl::Status RemoveUser(const std::string& container_key);

  const StoreOptions& options() const { return options_; }

 private:
  // Reports to options_.events, if any.
  void Journal(core::EventKind kind, std::string image, std::string message) const;

  struct Flight;
  class Leases;
  class PullJob;
  friend class PullJob;
  class ImportJob;
  friend class ImportJob;

  ImageStore(StoreOptions options, std::unique_ptr<MetadataDb> db,
             std::shared_ptr<const TlsTrust> trust);

  absl::Status Recover();
  // The row for `ref` if its content is complete; nullopt when absent.
  absl::StatusOr<std::optional<ImageRow>> FindLocal(const Reference& ref);
  // Config blob present and every layer's snapshot committed.
  absl::StatusOr<bool> ManifestComplete(const ManifestRow& m);
  absl::StatusOr<core::PullResult> PullLeader(const Reference& ref,
                                              const core::PullRequest& request,
                                              ProgressFanout& fanout);
  absl::Status DownloadBlob(RegistryClient& client, HttpClient& http, const Descriptor& desc,
                            ProgressFanout* fanout, const std::atomic<bool>* abort);
  // Unpacks one layer (already in the blob store) into its snapshot unless it is
  // there; returns the snapshot row.
  absl::StatusOr<SnapshotRow> EnsureSnapshot(const std::string& chain_id,
                                             const Descriptor& layer,
                                             const std::string& diff_id,
                                             const std::vector<std::string>& lowers_top_first);
  // Deletes unreferenced content. `manifests`: the manifests that may go (each only
  // if nothing names or uses it); nullopt = every dangling one (Prune).
  absl::StatusOr<core::PruneResult> Collect(std::optional<std::vector<std::string>> manifests);
  std::string SnapshotDir(int64_t id) const;
  // The key a reference is stored under: name:tag, or name@digest when pinned.
  static std::string StoreKey(const Reference& ref);

  const StoreOptions options_;
  const std::unique_ptr<MetadataDb> db_;
  BlobStore blobs_;
  const std::shared_ptr<const TlsTrust> trust_;
  KeyedLocks content_locks_;

  // Garbage collection holds gc_mu_ exclusively while it decides and deletes;
  // pulls and imports hold it shared while they take a lease and check that content
  // exists, so content they found cannot vanish before they record it.
  absl::Mutex gc_mu_;
  absl::Mutex mu_ ABSL_ACQUIRED_AFTER(gc_mu_);
  absl::flat_hash_map<std::string, int> leases_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::shared_ptr<Flight>> flights_ ABSL_GUARDED_BY(mu_);
};

// Mounts the layers as an overlayfs at `target`: layers read-only below, `upper`
// and `work` (created if missing, same filesystem) for the container's changes.
// Long layer lists are mounted with paths relative to their common directory, so
// 500 layers fit in overlay's one-page option limit. Where overlayfs is unavailable
// (ENODEV, or an upper directory on a filesystem overlay cannot use) the layers
// are copied into `upper`, whiteouts applied, and `upper` is bind-mounted instead.
enum class MountMode { kAuto, kOverlayOnly, kCopyOnly };
absl::Status MountRootfs(const std::vector<std::string>& layer_dirs_bottom_first,
                         const std::string& upper, const std::string& work,
                         const std::string& target, MountMode mode = MountMode::kAuto);
// Unmounts `target`; OK when nothing is mounted there.
absl::Status UnmountRootfs(const std::string& target);

}  // namespace zlayer::images
