#include "images/metadata_db.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/sqlite_statement.h"
#include "base/status_macros.h"

namespace zlayer::images {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS manifests(
  digest TEXT PRIMARY KEY,
  repository TEXT NOT NULL,
  config_digest TEXT NOT NULL,
  media_type TEXT NOT NULL,
  unpacked_size INTEGER NOT NULL,
  created_unix INTEGER);
CREATE TABLE IF NOT EXISTS manifest_layers(
  manifest_digest TEXT NOT NULL REFERENCES manifests(digest) ON DELETE CASCADE,
  idx INTEGER NOT NULL,
  layer_digest TEXT NOT NULL,
  chain_id TEXT NOT NULL,
  size INTEGER NOT NULL,
  PRIMARY KEY(manifest_digest, idx));
CREATE TABLE IF NOT EXISTS images(
  reference TEXT PRIMARY KEY,
  top_digest TEXT NOT NULL,
  manifest_digest TEXT NOT NULL REFERENCES manifests(digest),
  updated_unix INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS images_by_manifest ON images(manifest_digest);
CREATE TABLE IF NOT EXISTS snapshots(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  chain_id TEXT NOT NULL UNIQUE,
  layer_digest TEXT NOT NULL,
  diff_id TEXT NOT NULL DEFAULT '',
  size INTEGER NOT NULL DEFAULT 0,
  committed INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS users(
  container_key TEXT PRIMARY KEY,
  manifest_digest TEXT NOT NULL);
)sql";

}  // namespace

// A prepared statement, finalised on scope exit.
class MetadataDb::Stmt : public base::SqliteStatement {
 public:
  using SqliteStatement::SqliteStatement;
};

absl::StatusOr<std::unique_ptr<MetadataDb>> MetadataDb::Open(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                     SQLITE_OPEN_FULLMUTEX,
                                 nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return absl::InternalError(absl::StrCat("open image metadata ", path, ": ", msg));
  }
  std::unique_ptr<MetadataDb> out(new MetadataDb(db));
  absl::MutexLock lock(&out->mu_);
  sqlite3_busy_timeout(db, 5000);
  // WAL survives a crash of this process at any point; synchronous=FULL makes
  // every committed transaction survive a power loss too (they are few and small).
  AGENTD_RETURN_IF_ERROR(out->Exec("PRAGMA journal_mode=WAL"));
  AGENTD_RETURN_IF_ERROR(out->Exec("PRAGMA synchronous=FULL"));
  AGENTD_RETURN_IF_ERROR(out->Exec("PRAGMA foreign_keys=ON"));
  AGENTD_RETURN_IF_ERROR(out->Exec(kSchema));
  return out;
}

MetadataDb::~MetadataDb() {
  absl::MutexLock lock(&mu_);
  sqlite3_close(db_);
}

absl::Status MetadataDb::Error(const char* what) {
  return absl::InternalError(absl::StrCat("image metadata: ", what, ": ", sqlite3_errmsg(db_)));
}

absl::Status MetadataDb::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return absl::InternalError(absl::StrCat("image metadata: ", msg));
  }
  return absl::OkStatus();
}

#define DB_STMT(var, sql)          \
  Stmt var(db_, sql);              \
  if (!var.ok()) return Error("prepare")

#define DB_DONE(stmt, what) \
  if ((stmt).Step() != SQLITE_DONE) return Error(what)

// Rolls back unless committed: every multi-statement change is all or nothing.
class Txn {
 public:
  explicit Txn(sqlite3* db) : db_(db) {
    ok_ = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
  }
  ~Txn() {
    if (ok_ && !done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  bool ok() const { return ok_; }
  bool Commit() {
    done_ = true;
    return sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
  }

 private:
  sqlite3* db_;
  bool ok_ = false;
  bool done_ = false;
};

absl::Status MetadataDb::PutImage(const ImageRow& image, const ManifestRow& m) {
  absl::MutexLock lock(&mu_);
  Txn txn(db_);
  if (!txn.ok()) return Error("begin");
  {
    DB_STMT(s, "INSERT OR IGNORE INTO manifests(digest, repository, config_digest, media_type,"
               " unpacked_size, created_unix) VALUES(?,?,?,?,?,?)");
    s.Bind(1, m.digest).Bind(2, m.repository).Bind(3, m.config_digest).Bind(4, m.media_type);
    s.Bind(5, m.unpacked_size);
    if (m.created_unix) s.Bind(6, *m.created_unix); else s.BindNull(6);
    DB_DONE(s, "insert manifest");
    if (sqlite3_changes(db_) > 0) {
      for (size_t i = 0; i < m.layers.size(); ++i) {
        DB_STMT(ls, "INSERT INTO manifest_layers(manifest_digest, idx, layer_digest, chain_id,"
                    " size) VALUES(?,?,?,?,?)");
        ls.Bind(1, m.digest).Bind(2, static_cast<int64_t>(i)).Bind(3, m.layers[i].layer_digest);
        ls.Bind(4, m.layers[i].chain_id).Bind(5, m.layers[i].size);
        DB_DONE(ls, "insert manifest layer");
      }
    }
  }
  {
    DB_STMT(s, "INSERT OR REPLACE INTO images(reference, top_digest, manifest_digest,"
               " updated_unix) VALUES(?,?,?,?)");
    s.Bind(1, image.reference).Bind(2, image.top_digest).Bind(3, image.manifest_digest);
    s.Bind(4, absl::ToUnixSeconds(absl::Now()));
    DB_DONE(s, "insert image");
  }
  if (!txn.Commit()) return Error("commit");
  return absl::OkStatus();
}

absl::StatusOr<std::optional<ImageRow>> MetadataDb::QueryImage(const char* sql,
                                                               const std::string& arg) {
  DB_STMT(s, sql);
  s.Bind(1, arg);
  const int rc = s.Step();
  if (rc == SQLITE_DONE) return std::optional<ImageRow>();
  if (rc != SQLITE_ROW) return Error("query image");
  return std::optional<ImageRow>(ImageRow{s.Text(0), s.Text(1), s.Text(2), s.Int(3)});
}

absl::StatusOr<std::optional<ImageRow>> MetadataDb::GetImage(const std::string& reference) {
  absl::MutexLock lock(&mu_);
  return QueryImage("SELECT reference, top_digest, manifest_digest, updated_unix FROM images"
                    " WHERE reference = ?",
                    reference);
}

absl::StatusOr<std::optional<ImageRow>> MetadataDb::FindImageByDigest(const std::string& digest) {
  absl::MutexLock lock(&mu_);
  DB_STMT(s, "SELECT reference, top_digest, manifest_digest, updated_unix FROM images"
             " WHERE top_digest = ?1 OR manifest_digest = ?1 ORDER BY updated_unix DESC LIMIT 1");
  s.Bind(1, digest);
  const int rc = s.Step();
  if (rc == SQLITE_DONE) {
    // A manifest kept only because a container uses it still resolves by digest.
    DB_STMT(m, "SELECT digest FROM manifests WHERE digest = ?");
    m.Bind(1, digest);
    if (m.Step() == SQLITE_ROW) return std::optional<ImageRow>(ImageRow{"", digest, digest, 0});
    return std::optional<ImageRow>();
  }
  if (rc != SQLITE_ROW) return Error("query image by digest");
  return std::optional<ImageRow>(ImageRow{s.Text(0), s.Text(1), s.Text(2), s.Int(3)});
}

absl::StatusOr<std::vector<ImageRow>> MetadataDb::ListImages() {
  absl::MutexLock lock(&mu_);
  DB_STMT(s, "SELECT reference, top_digest, manifest_digest, updated_unix FROM images"
             " ORDER BY reference");
  std::vector<ImageRow> out;
  for (int rc; (rc = s.Step()) != SQLITE_DONE;) {
    if (rc != SQLITE_ROW) return Error("list images");
    out.push_back(ImageRow{s.Text(0), s.Text(1), s.Text(2), s.Int(3)});
  }
  return out;
}

absl::Status MetadataDb::DeleteImage(const std::string& reference) {
  absl::MutexLock lock(&mu_);
  DB_STMT(s, "DELETE FROM images WHERE reference = ?");
  s.Bind(1, reference);
  DB_DONE(s, "delete image");
  if (sqlite3_changes(db_) == 0) {
    return absl::NotFoundError(absl::StrCat("image ", reference, " is not in the store"));
  }
  return absl::OkStatus();
}

absl::Status MetadataDb::CopyImage(const ImageRow& source, const std::string& target) {
  absl::MutexLock lock(&mu_);
  DB_STMT(s, "INSERT OR REPLACE INTO images(reference, top_digest, manifest_digest, updated_unix)"
             " VALUES(?,?,?,?)");
  s.Bind(1, target).Bind(2, source.top_digest).Bind(3, source.manifest_digest);
  s.Bind(4, absl::ToUnixSeconds(absl::Now()));
  DB_DONE(s, "tag image");
  return absl::OkStatus();
}

absl::StatusOr<std::optional<ManifestRow>> MetadataDb::QueryManifest(const std::string& digest) {
  DB_STMT(s, "SELECT digest, repository, config_digest, media_type, unpacked_size, created_unix"
             " FROM manifests WHERE digest = ?");
  s.Bind(1, digest);
  const int rc = s.Step();
  if (rc == SQLITE_DONE) return std::optional<ManifestRow>();
  if (rc != SQLITE_ROW) return Error("query manifest");
  ManifestRow m;
  m.digest = s.Text(0);
  m.repository = s.Text(1);
  m.config_digest = s.Text(2);
  m.media_type = s.Text(3);
  m.unpacked_size = s.Int(4);
  if (!s.IsNull(5)) m.created_unix = s.Int(5);
  DB_STMT(ls, "SELECT layer_digest, chain_id, size FROM manifest_layers WHERE manifest_digest = ?"
              " ORDER BY idx");
  ls.Bind(1, digest);
  for (int lrc; (lrc = ls.Step()) != SQLITE_DONE;) {
    if (lrc != SQLITE_ROW) return Error("query manifest layers");
    m.layers.push_back(LayerRow{ls.Text(0), ls.Text(1), ls.Int(2)});
  }
  return std::optional<ManifestRow>(std::move(m));
}

absl::StatusOr<std::optional<ManifestRow>> MetadataDb::GetManifest(const std::string& digest) {
  absl::MutexLock lock(&mu_);
  return QueryManifest(digest);
}

absl::StatusOr<std::vector<ManifestRow>> MetadataDb::ListManifests() {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> digests;
  {
    DB_STMT(s, "SELECT digest FROM manifests");
    for (int rc; (rc = s.Step()) != SQLITE_DONE;) {
      if (rc != SQLITE_ROW) return Error("list manifests");
      digests.push_back(s.Text(0));
    }
  }
  std::vector<ManifestRow> out;
  for (const auto& d : digests) {
    AGENTD_ASSIGN_OR_RETURN(auto m, QueryManifest(d));
    if (m) out.push_back(*std::move(m));
  }
  return out;
}

absl::Status MetadataDb::DeleteManifest(const std::string& digest) {
  absl::MutexLock lock(&mu_);
  DB_STMT(s, "DELETE FROM manifests WHERE digest = ?");
  s.Bind(1, digest);
  DB_DONE(s, "delete manifest");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> MetadataDb::LiveManifests() {
  absl::MutexLock lock(&mu_);
  DB_STMT(s, "SELECT manifest_digest FROM images UNION SELECT manifest_digest FROM users");
  std::vector<std::string> out;
  for (int rc; (rc = s.Step()) != SQLITE_DONE;) {
    if (rc != SQLITE_ROW) return Error("live manifests");
    out.push_back(s.Text(0));
  }
  return out;
}

absl::StatusOr<std::optional<SnapshotRow>> MetadataDb::GetSnapshot(const std::string& chain_id) {
  absl::MutexLock lock(&mu_);
  DB_STMT(s, "SELECT id, chain_id, layer_digest, diff_id, size, committed FROM snapshots"
             " WHERE chain_id = ?");
  s.Bind(1, chain_id);
  const int rc = s.Step();
  if (rc == SQLITE_DONE) return std::optional<SnapshotRow>();
  if (rc != SQLITE_ROW) return Error("query snapshot");
  return std::optional<SnapshotRow>(
      SnapshotRow{s.Int(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4), s.Int(5) != 0});
}

absl::StatusOr<int64_t> MetadataDb::ReserveSnapshot(const std::string& chain_id,
                                                    const std::string& layer_digest) {
  absl::MutexLock lock(&mu_);
  DB_STMT(s, "INSERT INTO snapshots(chain_id, layer_digest) VALUES(?,?)");
  s.Bind(1, chain_id).Bind(2, layer_digest);
  DB_DONE(s, "reserve snapshot");
  return sqlite3_last_insert_rowid(db_);
}

absl::Status MetadataDb::CommitSnapshot(int64_t id, const std::string& diff_id, int64_t size) {
  absl::MutexLock lock(&mu_);
  DB_STMT(s, "UPDATE snapshots SET committed = 1, diff_id = ?, size = ? WHERE id = ?");
  s.Bind(1, diff_id).Bind(2, size).Bind(3, id);
  DB_DONE(s, "commit snapshot");
  return absl::OkStatus();
}

absl::Status MetadataDb::DeleteSnapshot(int64_t id) {
  absl::MutexLock lock(&mu_);
  DB_STMT(s, "DELETE FROM snapshots WHERE id = ?");
  s.Bind(1, id);
  DB_DONE(s, "delete snapshot");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<SnapshotRow>> MetadataDb::ListSnapshots() {
  absl::MutexLock lock(&mu_);
  DB_STMT(s, "SELECT id, chain_id, layer_digest, diff_id, size, committed FROM snapshots");
  std::vector<SnapshotRow> out;
  for (int rc; (rc = s.Step()) != SQLITE_DONE;) {
    if (rc != SQLITE_ROW) return Error("list snapshots");
    out.push_back(SnapshotRow{s.Int(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4), s.Int(5) != 0});
  }
  return out;
}

absl::Status MetadataDb::AddUser(const std::string& key, const std::string& manifest_digest) {
  absl::MutexLock lock(&mu_);
  DB_STMT(s, "INSERT OR REPLACE INTO users(container_key, manifest_digest) VALUES(?,?)");
  s.Bind(1, key).Bind(2, manifest_digest);
  DB_DONE(s, "add user");
  return absl::OkStatus();
}

absl::Status MetadataDb::RemoveUser(const std::string& key) {
  absl::MutexLock lock(&mu_);
  DB_STMT(s, "DELETE FROM users WHERE container_key = ?");
  s.Bind(1, key);
  DB_DONE(s, "remove user");
  return absl::OkStatus();
}

absl::StatusOr<int64_t> MetadataDb::CountUsers(const std::string& manifest_digest) {
  absl::MutexLock lock(&mu_);
  DB_STMT(s, "SELECT COUNT(*) FROM users WHERE manifest_digest = ?");
  s.Bind(1, manifest_digest);
  if (s.Step() != SQLITE_ROW) return Error("count users");
  return s.Int(0);
}

}  // namespace zlayer::images
