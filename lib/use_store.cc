#include "lib/use_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <chrono>
#include <thread>

#include "lib/crypto.h"
#include "lib/fsutil.h"
#include "lib/sqlite_stmt.h"

namespace gx {
namespace {

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS uses ("
    "  digest TEXT PRIMARY KEY NOT NULL,"
    "  spent INTEGER NOT NULL,"
    "  max_uses INTEGER NOT NULL,"
    "  not_after INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS uses_not_after ON uses(not_after);"
    "PRAGMA user_version = 1;";

Decision state_error(const std::string& detail, const std::string& path) {
  return Decision::deny(DenyReason::StateUnavailable, detail, "state", path);
}

bool valid_digest(const std::string& d) { return crypto::is_sha256_ref(d); }

using sqlite::Stmt;

// Rolls back unless committed: every early return leaves the database as it was.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) {}
  ~Transaction() {
    if (open_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  // BEGIN IMMEDIATE takes the write lock up front (waiting up to the busy
  // timeout), so two processes can never both read "1 use left".
  int begin() {
    int rc = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    open_ = rc == SQLITE_OK;
    return rc;
  }
  int commit() {
    int rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK) open_ = false;
    return rc;
  }

 private:
  sqlite3* db_;
  bool open_ = false;
};

}  // namespace

// The state directory holds the only record of spent uses: refuse one that
// someone else could rewrite or swap (fs::open_private_dir checks the
// directory and every ancestor).
Result<fs::OpenDir> open_state_dir(const std::string& dir) {
  auto d = fs::open_private_dir(dir, true);
  if (!d) return state_error("state directory unusable: " + d.error().detail, d.error().value.empty() ? dir : d.error().value);
  return d;
}

Decision ensure_state_dir(const std::string& dir) {
  auto d = open_state_dir(dir);
  return d ? Decision::allow() : d.error();
}

namespace {

// Pre-creates the database and its WAL 0600 (SQLite would use 0644 & ~umask)
// and checks an existing database. gx, not SQLite, creates uses.db-wal, and
// syncs the directory whenever it created either file: SQLite syncs the
// directory the first time every connection syncs a WAL it opened with
// O_CREAT (it cannot know the file is old), which cost each `gx run` one
// more fsync. Under an flock(2) on uses.db (independent of SQLite's fcntl
// locks), so no process can find the WAL before its creator synced it.
Decision prepare_db_files(const fs::OpenDir& dir) {
  auto exists = [&](const char* name) {
    struct stat st {};
    return fstatat(dir.fd.get(), name, &st, AT_SYMLINK_NOFOLLOW) == 0;
  };
  bool created = !exists("uses.db");
  auto fd = fs::open_in_dir(dir, "uses.db", O_RDWR | O_CREAT, 0600);
  if (!fd) return state_error(fd.error().detail, fd.error().value);
  const std::string path = dir.path + "/uses.db";
  struct stat st {};
  if (fstat(fd->get(), &st) != 0) return state_error("cannot stat " + path + ": " + fs::errno_text(errno), path);
  if (st.st_uid != geteuid()) return state_error(path + " is owned by another user", path);
  if ((st.st_mode & 077) != 0 && fchmod(fd->get(), 0600) != 0)
    return state_error("cannot chmod " + path + ": " + fs::errno_text(errno), path);
  int rc;
  do rc = flock(fd->get(), LOCK_EX);
  while (rc != 0 && errno == EINTR);
  if (rc != 0) return state_error("cannot lock " + path + ": " + fs::errno_text(errno), path);
  if (!exists("uses.db-wal")) {
    auto wal = fs::open_in_dir(dir, "uses.db-wal", O_RDWR | O_CREAT, 0600);
    if (!wal) return state_error(wal.error().detail, wal.error().value);
    created = true;
  }
  if (created && fsync(dir.fd.get()) != 0)
    return state_error("cannot sync " + dir.path + ": " + fs::errno_text(errno), dir.path);
  return Decision::allow();  // closing fd releases the flock
}

// Commits of a Deferred reserve() write their WAL frames without syncing
// them (synchronous=NORMAL); sync() makes them durable. Restores FULL on
// every path out.
class DeferredSync {
 public:
  DeferredSync(sqlite3* db, bool deferred) : db_(deferred ? db : nullptr) {
    if (db_ && sqlite3_exec(db_, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr) != SQLITE_OK) db_ = nullptr;
  }
  ~DeferredSync() {
    if (db_) sqlite3_exec(db_, "PRAGMA synchronous=FULL", nullptr, nullptr, nullptr);
  }
  DeferredSync(const DeferredSync&) = delete;
  DeferredSync& operator=(const DeferredSync&) = delete;

 private:
  sqlite3* db_;
};

}  // namespace

std::string UseStore::db_path(const std::string& state_dir) { return state_dir + "/uses.db"; }

Decision UseStore::fail(const std::string& what) const {
  return state_error("use store " + path_ + ": " + what + ": " + sqlite3_errmsg(db_), path_);
}

Decision UseStore::exec(const char* sql) {
  if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return fail(std::string("cannot run ") + sql);
  return Decision::allow();
}

Result<UseStore> UseStore::open(const std::string& state_dir, int busy_timeout_ms) {
  auto dir = open_state_dir(state_dir);
  if (!dir) return dir.error();
  // SQLite opens by path: give it the resolved one. No component of it can
  // be swapped by anyone but root or us (open_private_dir), and NOFOLLOW
  // refuses a link as the file itself.
  std::string path = db_path(dir->path);
  if (Decision d = prepare_db_files(*dir); !d) return d;

  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close(raw);
    return state_error("cannot open use store " + path + ": " + msg, path);
  }
  UseStore store(raw, path, std::move(*dir));
  // SQLite silently falls back to read-only on a write-protected file; a
  // store that cannot record a use must not be used at all.
  if (sqlite3_db_readonly(raw, "main") != 0) return state_error("use store " + path + " is read-only", path);
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, busy_timeout_ms);

  // Switching to WAL needs a brief exclusive lock that does not always go
  // through the busy handler: retry until the same deadline.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_timeout_ms);
  for (;;) {
    Stmt mode(raw, "PRAGMA journal_mode=WAL");
    rc = mode.ok() ? mode.step() : sqlite3_errcode(raw);
    if (rc == SQLITE_ROW) {
      std::string got = reinterpret_cast<const char*>(sqlite3_column_text(mode.get(), 0));
      if (got != "wal") return state_error("use store " + path + " cannot use WAL mode (got " + got + ")", path);
      break;
    }
    if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) return store.fail("cannot enable WAL mode");
    if (std::chrono::steady_clock::now() >= deadline) return store.fail("timed out enabling WAL mode");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // The WAL stays between processes (issue #14): without PERSIST_WAL every
  // gx run created, synced and deleted uses.db-wal, and the last connection
  // checkpointed on close — 5 of a run's 7 syncs. Checkpoints are left to
  // SQLite's automatic ones (at 1000 WAL pages, inside some later commit);
  // durability is unchanged: each commit's WAL frames are still fsync'd
  // (synchronous=FULL) before reserve() returns.
  int persist = 1;
  if (sqlite3_file_control(raw, "main", SQLITE_FCNTL_PERSIST_WAL, &persist) != SQLITE_OK)
    return store.fail("cannot keep the WAL between connections");
  if (sqlite3_db_config(raw, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr) != SQLITE_OK)
    return store.fail("cannot disable the checkpoint on close");
  // FULL: the WAL is fsync'd at every commit, so a reserved use survives power loss.
  if (Decision d = store.exec("PRAGMA synchronous=FULL"); !d) return d;
  if (Decision d = store.exec("PRAGMA trusted_schema=OFF"); !d) return d;

  auto user_version = [&]() -> Result<int64_t> {
    Stmt v(raw, "PRAGMA user_version");
    if (!v.ok() || v.step() != SQLITE_ROW) return store.fail("cannot read schema version");
    return sqlite3_column_int64(v.get(), 0);
  };
  auto version = user_version();
  if (!version) return version.error();
  if (*version == 0) {
    Transaction tx(raw);
    if (tx.begin() != SQLITE_OK) return store.fail("cannot lock to create the schema");
    version = user_version();  // another process may have created it meanwhile
    if (!version) return version.error();
    if (*version == 0) {
      if (Decision d = store.exec(kSchema); !d) return d;
      *version = kUseStoreSchemaVersion;
    }
    if (tx.commit() != SQLITE_OK) return store.fail("cannot commit the schema");
  }
  if (*version != kUseStoreSchemaVersion)
    return state_error("use store " + path + " has schema version " + std::to_string(*version) + "; this gx knows " +
                           std::to_string(kUseStoreSchemaVersion),
                       path);
  return store;
}

UseStore::UseStore(UseStore&& other) noexcept
    : db_(other.db_), path_(std::move(other.path_)), dir_(std::move(other.dir_)) {
  other.db_ = nullptr;
}

UseStore& UseStore::operator=(UseStore&& other) noexcept {
  if (this != &other) {
    sqlite3_close(db_);
    db_ = other.db_;
    path_ = std::move(other.path_);
    dir_ = std::move(other.dir_);
    other.db_ = nullptr;
  }
  return *this;
}

UseStore::~UseStore() { sqlite3_close(db_); }

namespace {
Decision replay_denial(const std::string& artifact_digest, uint32_t limit) {
  return Decision::deny(DenyReason::Replay,
                        "all " + std::to_string(limit) + " uses of artifact " + artifact_digest + " are spent",
                        "max_uses", std::to_string(limit));
}
}  // namespace

Decision UseStore::check_left(const std::string& artifact_digest, uint32_t max_uses) {
  auto rec = lookup(artifact_digest);
  if (!rec) return rec.error();
  const uint32_t limit = *rec ? std::min(max_uses, (*rec)->max_uses) : max_uses;
  if (limit == 0 || (*rec && (*rec)->spent >= limit)) return replay_denial(artifact_digest, limit);
  return Decision::allow();
}

Result<UseReservation> UseStore::reserve(const std::string& artifact_digest, uint32_t max_uses, UnixTime not_after,
                                         UseDurability durability) {
  if (!valid_digest(artifact_digest))
    return Decision::deny(DenyReason::InvalidValue, "artifact digest must be sha256:<64 hex digits>", "digest",
                          artifact_digest);
  if (max_uses == 0) return replay_denial(artifact_digest, 0);

  DeferredSync deferred(db_, durability == UseDurability::Deferred);
  Transaction tx(db_);
  if (int rc = tx.begin(); rc != SQLITE_OK) {
    if ((rc & 0xff) == SQLITE_BUSY) return fail("timed out waiting for the write lock (another gx holds it)");
    return fail("cannot begin a transaction");
  }
  Stmt select(db_, "SELECT spent, max_uses FROM uses WHERE digest = ?1");
  if (!select.ok()) return fail("cannot prepare lookup");
  sqlite3_bind_text(select.get(), 1, artifact_digest.c_str(), -1, SQLITE_STATIC);
  int rc = select.step();
  uint32_t spent = 0;
  uint32_t limit = max_uses;
  if (rc == SQLITE_ROW) {
    spent = static_cast<uint32_t>(sqlite3_column_int64(select.get(), 0));
    // Same digest means same signed body, so the stored limit equals the
    // given one; if they ever differ, the smaller wins.
    limit = std::min(limit, static_cast<uint32_t>(sqlite3_column_int64(select.get(), 1)));
  } else if (rc != SQLITE_DONE) {
    return fail("cannot look up artifact");
  }
  sqlite3_reset(select.get());  // no statement may be left mid-read at COMMIT
  if (spent >= limit) return replay_denial(artifact_digest, limit);

  Stmt write(db_, rc == SQLITE_ROW
                      ? "UPDATE uses SET spent = spent + 1, not_after = max(not_after, ?3) WHERE digest = ?1"
                      : "INSERT INTO uses (digest, spent, max_uses, not_after) VALUES (?1, 1, ?2, ?3)");
  if (!write.ok()) return fail("cannot prepare update");
  sqlite3_bind_text(write.get(), 1, artifact_digest.c_str(), -1, SQLITE_STATIC);
  sqlite3_bind_int64(write.get(), 2, max_uses);
  sqlite3_bind_int64(write.get(), 3, not_after);
  if (write.step() != SQLITE_DONE) return fail("cannot record the use");
  // Committed (and, Synced: fsync'd) before we return: the use is spent
  // even if this process dies before the child runs.
  if (tx.commit() != SQLITE_OK) return fail("cannot commit the use");
  return UseReservation{artifact_digest, spent + 1, limit};
}

Decision UseStore::sync() {
  auto wal = fs::open_in_dir(dir_, "uses.db-wal", O_RDONLY);
  if (!wal) return state_error("use store " + path_ + ": " + wal.error().detail, path_);
  if (fdatasync(wal->get()) != 0) return state_error("cannot sync " + path_ + "-wal: " + fs::errno_text(errno), path_);
  return Decision::allow();
}

Result<std::optional<UseRecord>> UseStore::lookup(const std::string& artifact_digest) {
  Stmt select(db_, "SELECT spent, max_uses, not_after FROM uses WHERE digest = ?1");
  if (!select.ok()) return fail("cannot prepare lookup");
  sqlite3_bind_text(select.get(), 1, artifact_digest.c_str(), -1, SQLITE_STATIC);
  int rc = select.step();
  if (rc == SQLITE_DONE) return std::optional<UseRecord>{};
  if (rc != SQLITE_ROW) return fail("cannot look up artifact");
  return std::optional<UseRecord>{UseRecord{artifact_digest, static_cast<uint32_t>(sqlite3_column_int64(select.get(), 0)),
                                            static_cast<uint32_t>(sqlite3_column_int64(select.get(), 1)),
                                            sqlite3_column_int64(select.get(), 2)}};
}

Result<uint64_t> UseStore::prune(UnixTime now, int64_t margin_seconds) {
  // Defence in depth (cmd/state.cc already caps --now): never prune as of a
  // time after the clock, and never with a negative margin.
  now = std::min<UnixTime>(now, static_cast<UnixTime>(time(nullptr)));
  margin_seconds = std::max<int64_t>(margin_seconds, 0);
  Transaction tx(db_);
  if (tx.begin() != SQLITE_OK) return fail("cannot lock the use store");
  Stmt del(db_, "DELETE FROM uses WHERE not_after < ?1");
  if (!del.ok()) return fail("cannot prepare prune");
  sqlite3_bind_int64(del.get(), 1, now - margin_seconds);
  if (del.step() != SQLITE_DONE) return fail("cannot prune");
  auto pruned = static_cast<uint64_t>(sqlite3_changes64(db_));
  if (tx.commit() != SQLITE_OK) return fail("cannot commit prune");
  return pruned;
}

Result<UseStoreStats> UseStore::stats() {
  Stmt q(db_, "SELECT count(*), coalesce(sum(spent >= max_uses), 0) FROM uses");
  if (!q.ok() || q.step() != SQLITE_ROW) return fail("cannot count entries");
  return UseStoreStats{static_cast<uint64_t>(sqlite3_column_int64(q.get(), 0)),
                       static_cast<uint64_t>(sqlite3_column_int64(q.get(), 1))};
}

}  // namespace gx
