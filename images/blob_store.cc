#include "images/blob_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "base/fs_util.h"
#include "base/status_macros.h"
#include "core/errors.h"
#include "images/reference.h"

namespace zlayer::images {
namespace {

absl::Status FsyncDir(const std::string& dir) {
  base::UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return core::ErrnoError(absl::StrCat("open ", dir));
  if (::fsync(fd.get()) != 0) return core::ErrnoError(absl::StrCat("fsync ", dir));
  return absl::OkStatus();
}

}  // namespace

BlobStore::BlobStore(std::string root)
    : root_(std::move(root)),
      blobs_dir_(absl::StrCat(root_, "/blobs/sha256")),
      ingest_dir_(absl::StrCat(root_, "/ingest")) {}

absl::Status BlobStore::Init() {
  AGENTD_RETURN_IF_ERROR(base::MakeDirs(blobs_dir_, 0700));
  // Whatever is in ingest/ was being written when the process died.
  AGENTD_RETURN_IF_ERROR(base::RemoveTree(ingest_dir_));
  return base::MakeDirs(ingest_dir_, 0700);
}

std::string BlobStore::PathOf(absl::string_view digest) const {
  return absl::StrCat(blobs_dir_, "/", DigestHex(digest));
}

bool BlobStore::Has(absl::string_view digest) const {
  struct stat st;
  return ::lstat(PathOf(digest).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

absl::StatusOr<uint64_t> BlobStore::SizeOf(absl::string_view digest) const {
  struct stat st;
  if (::lstat(PathOf(digest).c_str(), &st) != 0) {
    return core::ErrnoError(absl::StrCat("blob ", digest));
  }
  return static_cast<uint64_t>(st.st_size);
}

absl::StatusOr<std::string> BlobStore::Read(absl::string_view digest, size_t max_bytes) const {
  AGENTD_ASSIGN_OR_RETURN(uint64_t size, SizeOf(digest));
  if (size > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("blob ", digest, " is ", size, " bytes, more than the ", max_bytes,
                     " allowed for metadata"));
  }
  return base::ReadFile(PathOf(digest));
}

absl::StatusOr<std::string> BlobStore::Put(absl::string_view data) {
  const std::string digest = DigestOf(data);
  if (Has(digest)) return digest;
  AGENTD_ASSIGN_OR_RETURN(Writer w, NewWriter());
  AGENTD_RETURN_IF_ERROR(w.Append(data.data(), data.size()));
  AGENTD_RETURN_IF_ERROR(w.Commit(digest, static_cast<int64_t>(data.size())));
  return digest;
}

absl::Status BlobStore::Remove(absl::string_view digest) {
  if (::unlink(PathOf(digest).c_str()) != 0 && errno != ENOENT) {
    return core::ErrnoError(absl::StrCat("remove blob ", digest));
  }
  return absl::OkStatus();
}

std::vector<std::string> BlobStore::List() const {
  std::vector<std::string> out;
  DIR* dir = ::opendir(blobs_dir_.c_str());
  if (dir == nullptr) return out;
  while (struct dirent* e = ::readdir(dir)) {
    std::string digest = absl::StrCat("sha256:", e->d_name);
    if (ValidateDigest(digest).ok()) out.push_back(std::move(digest));
  }
  ::closedir(dir);
  return out;
}

absl::StatusOr<BlobStore::Writer> BlobStore::NewWriter() const {
  base::UniqueFd fd(::open(ingest_dir_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (fd) return Writer(this, std::move(fd), "");
  if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
    return core::ErrnoError(absl::StrCat("create temp blob in ", ingest_dir_));
  }
  std::string path = absl::StrCat(ingest_dir_, "/blob-XXXXXX");
  fd.Reset(::mkostemp(path.data(), O_CLOEXEC));
  if (!fd) return core::ErrnoError(absl::StrCat("create temp blob in ", ingest_dir_));
  return Writer(this, std::move(fd), std::move(path));
}

BlobStore::Writer::~Writer() {
  if (!named_path_.empty()) ::unlink(named_path_.c_str());
}

absl::Status BlobStore::Writer::Append(const char* data, size_t len) {
  hash_.Update(data, len);
  size_ += len;
  while (len > 0) {
    const ssize_t n = ::write(fd_.get(), data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return core::ErrnoError("write blob");
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status BlobStore::Writer::Reset() {
  if (::ftruncate(fd_.get(), 0) != 0 || ::lseek(fd_.get(), 0, SEEK_SET) != 0) {
    return core::ErrnoError("truncate blob");
  }
  hash_ = Sha256();
  size_ = 0;
  return absl::OkStatus();
}

absl::Status BlobStore::Writer::Commit(const std::string& expected_digest,
                                       int64_t expected_size) {
  if (expected_size >= 0 && size_ != static_cast<uint64_t>(expected_size)) {
    return absl::InvalidArgumentError(absl::StrCat("size mismatch for ", expected_digest,
                                                   ": expected ", expected_size,
                                                   " bytes, received ", size_));
  }
  const std::string actual = hash_.Finish();
  if (actual != expected_digest) {
    return absl::InvalidArgumentError(absl::StrCat("digest mismatch: expected ", expected_digest,
                                                   ", content hashes to ", actual));
  }
  if (::fsync(fd_.get()) != 0) return core::ErrnoError("fsync blob");
  const std::string target = store_->PathOf(expected_digest);
  if (named_path_.empty()) {
    // linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; the /proc path does not.
    const std::string proc = absl::StrCat("/proc/self/fd/", fd_.get());
    if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, target.c_str(), AT_SYMLINK_FOLLOW) != 0 &&
        errno != EEXIST) {  // same digest, same bytes: someone else won the race
      return core::ErrnoError(absl::StrCat("link blob ", expected_digest));
    }
  } else {
    if (::rename(named_path_.c_str(), target.c_str()) != 0) {
      return core::ErrnoError(absl::StrCat("rename blob ", expected_digest));
    }
    named_path_.clear();
  }
  fd_.Reset();
  return FsyncDir(store_->blobs_dir_);
}

}  // namespace zlayer::images
