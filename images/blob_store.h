// Content-addressed blobs on disk: <root>/blobs/sha256/<hex>, immutable once there.
//
// A blob becomes visible only complete and verified: it is written to an anonymous
// O_TMPFILE (or a file under <root>/ingest where the filesystem lacks O_TMPFILE),
// hashed while written, fsynced, and linked into place. A crash mid-write leaves
// nothing, or a file under ingest/ that Init() removes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/unique_fd.h"
#include "images/digest.h"

namespace zlayer::images {

class BlobStore {
 public:
  // `root` is the store root; blobs live in root/blobs/sha256.
  explicit BlobStore(std::string root);

  // Creates the directories and removes leftovers of interrupted writes.
  absl::Status Init();

  std::string PathOf(absl::string_view digest) const;
  bool Has(absl::string_view digest) const;
  // Bytes on disk of a blob, or NOT_FOUND.
  absl::StatusOr<uint64_t> SizeOf(absl::string_view digest) const;
  // Reads a blob of at most `max_bytes` (manifests, configs). It was verified when
  // written, so it is not re-hashed.
  absl::StatusOr<std::string> Read(absl::string_view digest, size_t max_bytes = 4 << 20) const;
  // Stores `data` and returns its digest; a blob already present is fine.
  absl::StatusOr<std::string> Put(absl::string_view data);
  // Removes a blob; absent is fine.
  absl::Status Remove(absl::string_view digest);
  // Digests of every stored blob.
  std::vector<std::string> List() const;

  // Writes one blob, hashing on the way. Destroying it without Commit discards
  // everything written.
  class Writer {
   public:
    Writer(Writer&&) noexcept = default;
    Writer& operator=(Writer&&) noexcept = default;
    ~Writer();

    absl::Status Append(const char* data, size_t len);
    uint64_t size() const { return size_; }
    // Verifies size (when expected_size >= 0) and digest, then makes the blob
    // visible. INVALID_ARGUMENT on a mismatch, and the data is discarded.
    absl::Status Commit(const std::string& expected_digest, int64_t expected_size);
    // Forgets what was written so far (a download restarting from byte 0).
    absl::Status Reset();

   private:
    friend class BlobStore;
    Writer(const BlobStore* store, base::UniqueFd fd, std::string named_path)
        : store_(store), fd_(std::move(fd)), named_path_(std::move(named_path)) {}
    const BlobStore* store_;
    base::UniqueFd fd_;
    std::string named_path_;  // empty for O_TMPFILE
    Sha256 hash_;
    uint64_t size_ = 0;
  };
  absl::StatusOr<Writer> NewWriter() const;

 private:
  std::string root_;
  std::string blobs_dir_;
  std::string ingest_dir_;
};

}  // namespace zlayer::images
