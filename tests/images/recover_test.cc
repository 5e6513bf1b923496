// Open() after a crash: whatever an interrupted pull left is removed, and what was
// committed stays.
#include <catch2/catch.hpp>

#include "base/fs_util.h"
#include "images/image_store.h"
#include "images/metadata_db.h"
#include "store_helpers.h"

namespace zlayer::images {
namespace {

using testing::ListDir;

TEST_CASE("Open removes the leftovers of an interrupted pull", "[unit]") {
  auto dir = zlayer::testing::MakeTempDir();
  const std::string root = dir.path();
  { auto store = testing::OpenStore(root); }
  int64_t committed = 0, reserved = 0;
  {
    auto db = *MetadataDb::Open(root + "/metadata.db");
    committed = *db->ReserveSnapshot("sha256:" + std::string(64, 'c'), "sha256:" + std::string(64, 'd'));
    REQUIRE(db->CommitSnapshot(committed, "sha256:" + std::string(64, 'c'), 3).ok());
    reserved = *db->ReserveSnapshot("sha256:" + std::string(64, 'e'), "sha256:" + std::string(64, 'f'));
    // A committed row whose directory vanished is dropped too.
    const int64_t lost = *db->ReserveSnapshot("sha256:" + std::string(64, '1'), "sha256:" + std::string(64, '2'));
    REQUIRE(db->CommitSnapshot(lost, "sha256:" + std::string(64, '1'), 1).ok());
  }
  auto put = [](const std::string& path) {
    REQUIRE(base::MakeDirs(path.substr(0, path.rfind('/'))).ok());
    REQUIRE(base::WriteFileAtomic(path, "x").ok());
  };
  put(absl::StrCat(root, "/snapshots/", committed, "/keep"));
  put(absl::StrCat(root, "/snapshots/", reserved, "/half"));
  put(root + "/snapshots/999/stray");
  put(root + "/snapshots/junk-name");
  put(root + "/tmp/7/partial");
  put(root + "/ingest/blob-abc123");

  auto store = testing::OpenStore(root);
  CHECK(ListDir(root + "/snapshots") == std::vector<std::string>{std::to_string(committed)});
  CHECK(base::ReadFile(absl::StrCat(root, "/snapshots/", committed, "/keep")).ok());
  CHECK(ListDir(root + "/tmp").empty());
  CHECK(ListDir(root + "/ingest").empty());
  auto db = *MetadataDb::Open(root + "/metadata.db");
  auto rows = *db->ListSnapshots();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].id == committed);
  CHECK(rows[0].committed);
}

TEST_CASE("Open refuses a bad CA file and a relative root", "[unit]") {
  auto dir = zlayer::testing::MakeTempDir();
  StoreOptions o;
  o.root = "relative/path";
  CHECK(ImageStore::Open(o).status().code() == absl::StatusCode::kInvalidArgument);
  o.root = dir.path() + "/s";
  o.registries.ca_file = dir.path() + "/ca.pem";
  REQUIRE(base::WriteFileAtomic(o.registries.ca_file, "not a certificate").ok());
  auto r = ImageStore::Open(o);
  CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(r.status().message()), Catch::Contains("no PEM certificate"));
  o.registries.ca_file = dir.path() + "/missing.pem";
  CHECK(ImageStore::Open(o).status().code() == absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace zlayer::images
