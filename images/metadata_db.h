// The store's metadata in SQLite (WAL): which references name which manifests,
// which layers a manifest has, which snapshots exist, and which containers use
// which image.
//
// One connection behind a mutex: every statement is tiny next to a pull, and a
// single writer keeps transactions simple. Each method is one transaction, so a
// crash leaves the database either before or after it.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace zlayer::images {

struct LayerRow {
  std::string layer_digest;
  std::string chain_id;
  int64_t size = 0;  // compressed blob size
};

struct ManifestRow {
  std::string digest;
  std::string repository;  // "docker.io/library/busybox", for reports
  std::string config_digest;
  std::string media_type;
  int64_t unpacked_size = 0;
  std::optional<int64_t> created_unix;
  std::vector<LayerRow> layers;  // bottom first
};

struct ImageRow {
  std::string reference;       // canonical, see ImageStore
  std::string top_digest;      // what the reference resolved to (index or manifest)
  std::string manifest_digest; // the platform manifest
  int64_t updated_unix = 0;
};

struct SnapshotRow {
  int64_t id = 0;
  std::string chain_id;
  std::string layer_digest;
  std::string diff_id;
  int64_t size = 0;
  bool committed = false;
};

class MetadataDb {
 public:
  static absl::StatusOr<std::unique_ptr<MetadataDb>> Open(const std::string& path);
  ~MetadataDb();
  MetadataDb(const MetadataDb&) = delete;
  MetadataDb& operator=(const MetadataDb&) = delete;

  // Images ----------------------------------------------------------------
  // Records a manifest (with its layers) and points `image.reference` at it.
  absl::Status PutImage(const ImageRow& image, const ManifestRow& manifest);
  absl::StatusOr<std::optional<ImageRow>> GetImage(const std::string& reference);
  // Any image whose top or platform manifest has this digest.
  absl::StatusOr<std::optional<ImageRow>> FindImageByDigest(const std::string& digest);
  absl::StatusOr<std::vector<ImageRow>> ListImages();
  // NOT_FOUND when absent.
  absl::Status DeleteImage(const std::string& reference);
  // Points `target` at what `source` names (replacing an older target).
  absl::Status CopyImage(const ImageRow& source, const std::string& target);

  // Manifests -------------------------------------------------------------
  absl::StatusOr<std::optional<ManifestRow>> GetManifest(const std::string& digest);
  absl::StatusOr<std::vector<ManifestRow>> ListManifests();
  absl::Status DeleteManifest(const std::string& digest);
  // Manifests named by an image or used by a container.
  absl::StatusOr<std::vector<std::string>> LiveManifests();

  // Snapshots -------------------------------------------------------------
  absl::StatusOr<std::optional<SnapshotRow>> GetSnapshot(const std::string& chain_id);
  // Inserts an uncommitted row and returns its id (the directory name). A row
  // left uncommitted by a crash is removed, with its directory, at the next Open.
  absl::StatusOr<int64_t> ReserveSnapshot(const std::string& chain_id,
                                          const std::string& layer_digest);
  absl::Status CommitSnapshot(int64_t id, const std::string& diff_id, int64_t size);
  absl::Status DeleteSnapshot(int64_t id);
  absl::StatusOr<std::vector<SnapshotRow>> ListSnapshots();

  // Users -----------------------------------------------------------------
  absl::Status AddUser(const std::string& container_key, const std::string& manifest_digest);
  absl::Status RemoveUser(const std::string& container_key);
  absl::StatusOr<int64_t> CountUsers(const std::string& manifest_digest);

 private:
  explicit MetadataDb(sqlite3* db) : db_(db) {}
  class Stmt;
  absl::Status Exec(const char* sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Error(const char* what) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::optional<ImageRow>> QueryImage(const char* sql, const std::string& arg)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::optional<ManifestRow>> QueryManifest(const std::string& digest)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  sqlite3* db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace zlayer::images
