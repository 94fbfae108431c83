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
#include <functional>
#include <map>
#include <thread>

#include "lib/clock.h"
#include "lib/crypto.h"
#include "lib/fsutil.h"
#include "lib/sqlite_stmt.h"

namespace gx {
namespace {

// Schema 2: uses.last_seq and log_sync (lib/use_store.h, "Reconciliation").
// A new store has never been reconciled (boot_id ''): its first reservation
// counts every authorized receipt of the log.
constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS uses ("
    "  digest TEXT PRIMARY KEY NOT NULL,"
    "  spent INTEGER NOT NULL,"
    "  max_uses INTEGER NOT NULL,"
    "  not_after INTEGER NOT NULL,"
    "  last_seq INTEGER NOT NULL DEFAULT 0"
    ") WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS uses_not_after ON uses(not_after);"
    "CREATE TABLE log_sync ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  boot_id TEXT NOT NULL,"
    "  synced_offset INTEGER NOT NULL,"
    "  synced_seq INTEGER NOT NULL,"
    "  synced_hash TEXT NOT NULL,"
    "  legacy INTEGER NOT NULL"
    ");"
    "PRAGMA user_version = 2;";
// Schema 1 -> 2. Every commit of a schema-1 store was synced before its run
// (UseDurability::Synced, or the two-sync record of earlier gx): it is
// complete, and is adopted as reconciled up to the log's end at its first
// reserve_logged() (legacy = 1); its rows have last_seq 0.
constexpr const char* kMigrate1to2 =
    "ALTER TABLE uses ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE log_sync ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  boot_id TEXT NOT NULL,"
    "  synced_offset INTEGER NOT NULL,"
    "  synced_seq INTEGER NOT NULL,"
    "  synced_hash TEXT NOT NULL,"
    "  legacy INTEGER NOT NULL"
    ");"
    "PRAGMA user_version = 2;";

// A row created by reconciliation knows neither the artifact's max_uses nor
// its not_after (receipts do not carry them): these stand for "unknown"
// until the next reserve of that digest fills them in. Never pruned while
// unknown: forgetting counted uses of a live artifact would free them.
constexpr int64_t kUnknownMaxUses = 4294967295;
constexpr int64_t kUnknownNotAfter = INT64_MAX;

// The log_sync row of a new (never reconciled) or an upgraded (legacy) store.
std::string log_sync_row(bool legacy) {
  std::string sql = "INSERT INTO log_sync VALUES (1, '', 0, 0, '";
  sql.append(kGenesisHash);
  sql.append(legacy ? "', 1)" : "', 0)");
  return sql;
}

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

Decision UseStore::exec(const std::string& sql) {
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) return fail("cannot run " + sql);
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
      if (Decision d = store.exec(log_sync_row(false));
          !d)
        return d;
      *version = kUseStoreSchemaVersion;
    }
    if (tx.commit() != SQLITE_OK) return store.fail("cannot commit the schema");
  }
  if (*version == 1) {
    Transaction tx(raw);
    if (tx.begin() != SQLITE_OK) return store.fail("cannot lock to upgrade the schema");
    version = user_version();
    if (!version) return version.error();
    if (*version == 1) {
      if (Decision d = store.exec(kMigrate1to2); !d) return d;
      if (Decision d = store.exec(log_sync_row(true));
          !d)
        return d;
      *version = kUseStoreSchemaVersion;
    }
    if (tx.commit() != SQLITE_OK) return store.fail("cannot commit the schema upgrade");
  }
  if (*version != kUseStoreSchemaVersion)
    return state_error("use store " + path + " has schema version " + std::to_string(*version) + "; this gx knows " +
                           std::to_string(kUseStoreSchemaVersion),
                       path);
  return store;
}

UseStore::UseStore(UseStore&& other) noexcept
    : db_(other.db_),
      path_(std::move(other.path_)),
      dir_(std::move(other.dir_)),
      boot_id_override_(std::move(other.boot_id_override_)),
      sync_due_(other.sync_due_) {
  other.db_ = nullptr;
}

UseStore& UseStore::operator=(UseStore&& other) noexcept {
  if (this != &other) {
    sqlite3_close(db_);
    db_ = other.db_;
    path_ = std::move(other.path_);
    dir_ = std::move(other.dir_);
    boot_id_override_ = std::move(other.boot_id_override_);
    sync_due_ = other.sync_due_;
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

namespace {

// The log position up to which a store is reconciled (the log_sync row).
struct LogSync {
  std::string boot_id;
  uint64_t offset = 0;
  ScanEnd synced;  // the receipt ending at `offset` (seq 0, genesis: none)
  bool legacy = false;
};

// Read once per process: the boot id cannot change while a process lives.
const std::string& kernel_boot_id() {
  static const std::string id = [] {
    auto text = fs::read_file("/proc/sys/kernel/random/boot_id", 128);
    if (!text) return std::string();
    std::string t = text.take();
    while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
    return t;
  }();
  return id;
}

Result<LogSync> read_log_sync(sqlite3* db, const std::function<Decision(const std::string&)>& fail) {
  Stmt q(db, "SELECT boot_id, synced_offset, synced_seq, synced_hash, legacy FROM log_sync WHERE id = 1");
  if (!q.ok() || q.step() != SQLITE_ROW) return fail("cannot read log_sync");
  LogSync s;
  s.boot_id = sqlite::column_text(q.get(), 0);
  s.offset = static_cast<uint64_t>(sqlite3_column_int64(q.get(), 1));
  s.synced.seq = static_cast<uint64_t>(sqlite3_column_int64(q.get(), 2));
  s.synced.hash = sqlite::column_text(q.get(), 3);
  s.legacy = sqlite3_column_int64(q.get(), 4) != 0;
  return s;
}

// log_sync.boot_id binds the store to a boot AND to one receipts.log:
// "<boot id>/<inode of receipts.log>" (a store of an earlier schema-2 gx
// holds the boot id alone). Unsynced commits are lost only with the
// kernel's page cache, i.e. across a boot; a store whose recorded log is
// another file (a store copied from another state directory in this boot,
// or a state directory copied whole) counts another log's receipts.
std::string binding_of(const std::string& boot, uint64_t log_inode) {
  return boot + "/" + std::to_string(log_inode);
}

// How a store must be reconciled before it is trusted.
enum class Reconcile { No, FromSynced, Rebuild };
Reconcile reconcile_mode(const LogSync& s, const std::string& boot, uint64_t log_inode) {
  const auto slash = s.boot_id.rfind('/');
  // Bound to another log: its rows' last_seq and its synced position mean
  // nothing here. Recount the whole log (counts only ever go up).
  if (slash != std::string::npos && s.boot_id.substr(slash + 1) != std::to_string(log_inode))
    return Reconcile::Rebuild;
  if (boot.empty() || s.boot_id != binding_of(boot, log_inode)) return Reconcile::FromSynced;
  return Reconcile::No;
}

Result<uint64_t> inode_of(int fd, const std::string& path) {
  struct stat st {};
  if (fstat(fd, &st) != 0)
    return Decision::deny(DenyReason::LogUnavailable, "cannot stat " + path + ": " + fs::errno_text(errno));
  return static_cast<uint64_t>(st.st_ino);
}

// A rebuild's tally: per digest, its authorized receipts in the whole log
// and the seq of the last one.
struct Tally {
  uint64_t count = 0;
  uint64_t last_seq = 0;
};

uint32_t clamp_uses(int64_t v) { return static_cast<uint32_t>(std::clamp<int64_t>(v, 0, kUnknownMaxUses)); }

}  // namespace

std::string UseStore::boot_id() const { return boot_id_override_.empty() ? kernel_boot_id() : boot_id_override_; }

Decision UseStore::check_left(const std::string& artifact_digest, uint32_t max_uses) {
  Stmt q(db_, "SELECT spent, max_uses, last_seq FROM uses WHERE digest = ?1");
  if (!q.ok()) return fail("cannot prepare lookup");
  sqlite3_bind_text(q.get(), 1, artifact_digest.c_str(), -1, SQLITE_STATIC);
  int rc = q.step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail("cannot look up artifact");
  uint64_t spent = 0, last_seq = 0;
  uint32_t limit = max_uses;
  if (rc == SQLITE_ROW) {
    spent = static_cast<uint64_t>(sqlite3_column_int64(q.get(), 0));
    limit = std::min(limit, clamp_uses(sqlite3_column_int64(q.get(), 1)));
    last_seq = static_cast<uint64_t>(sqlite3_column_int64(q.get(), 2));
  }
  sqlite3_reset(q.get());
  auto sync = read_log_sync(db_, [&](const std::string& w) { return fail(w); });
  if (!sync) return sync.error();
  struct stat st {};
  const bool has_log = fstatat(dir_.fd.get(), std::string(kReceiptLogFile).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
  const Reconcile mode = sync->legacy || !has_log ? Reconcile::No
                                                  : reconcile_mode(*sync, boot_id(), static_cast<uint64_t>(st.st_ino));
  if (mode == Reconcile::Rebuild) {
    uint64_t in_log = 0;
    auto end = scan_receipt_log(dir_, 0, ScanEnd{0, std::string(kGenesisHash)}, [&](const ScannedReceipt& r) {
      if (r.decision == ReceiptKind::Authorized && r.artifact_digest == artifact_digest) ++in_log;
    });
    if (!end) return end.error();
    spent = std::max(spent, in_log);
  } else if (mode == Reconcile::FromSynced) {
    // What reserve_logged() would count first (read without the log's lock:
    // a dry run is advice, the reservation decides).
    auto end = scan_receipt_log(dir_, sync->offset, sync->synced, [&](const ScannedReceipt& r) {
      if (r.decision == ReceiptKind::Authorized && r.artifact_digest == artifact_digest && r.seq > last_seq) {
        ++spent;
        last_seq = r.seq;
      }
    });
    if (!end) return end.error();
  }
  if (limit == 0 || spent >= limit) return replay_denial(artifact_digest, limit);
  return Decision::allow();
}

Decision UseStore::check_left_without_store(const std::string& state_dir, const std::string& artifact_digest,
                                            uint32_t max_uses) {
  if (!fs::exists(state_dir)) return max_uses == 0 ? replay_denial(artifact_digest, 0) : Decision::allow();
  auto dir = fs::open_dir_readonly(state_dir);
  if (!dir) return state_error("state directory unusable: " + dir.error().detail, state_dir);
  uint64_t spent = 0;
  auto end = scan_receipt_log(*dir, 0, ScanEnd{0, std::string(kGenesisHash)}, [&](const ScannedReceipt& r) {
    if (r.decision == ReceiptKind::Authorized && r.artifact_digest == artifact_digest) ++spent;
  });
  if (!end) return end.error();
  if (max_uses == 0 || spent >= max_uses) return replay_denial(artifact_digest, max_uses);
  return Decision::allow();
}

Decision UseStore::reconcile(const LogPosition& at, uint64_t log_inode, bool rebuild) {
  const std::string log_path = dir_.path + "/" + std::string(kReceiptLogFile);
  // The synced position recorded below must be durable in the log: a power
  // loss must never leave the log shorter than it (that reads as truncation).
  if (fdatasync(at.fd) != 0)
    return Decision::deny(DenyReason::LogUnavailable, "cannot sync " + log_path + ": " + fs::errno_text(errno));
  auto sync = read_log_sync(db_, [&](const std::string& w) { return fail(w); });
  if (!sync) return sync.error();
  if (!sync->legacy) {
    const uint64_t from = rebuild ? 0 : sync->offset;
    const ScanEnd after = rebuild ? ScanEnd{0, std::string(kGenesisHash)} : sync->synced;
    if (!rebuild && at.offset < sync->offset)
      return Decision::deny(DenyReason::LogTampered,
                            log_path + " ends at byte " + std::to_string(at.offset) + ", before byte " +
                                std::to_string(sync->offset) +
                                " that the use store records as durable: the log was truncated",
                            "file", log_path);
    Stmt get(db_, "SELECT last_seq FROM uses WHERE digest = ?1");
    Stmt add(db_, "UPDATE uses SET spent = spent + 1, last_seq = ?2 WHERE digest = ?1");
    Stmt create(db_, "INSERT INTO uses (digest, spent, max_uses, not_after, last_seq) VALUES (?1, 1, ?3, ?4, ?2)");
    if (!get.ok() || !add.ok() || !create.ok()) return fail("cannot prepare reconciliation");
    Decision err = Decision::allow();
    std::map<std::string, Tally> tally;  // rebuild only
    // Counts one authorized receipt of D unless D's row already covers it
    // (per digest, reservations commit in seq order: lib/run_record.h).
    auto count = [&](const ScannedReceipt& r) {
      if (!err || r.decision != ReceiptKind::Authorized) return;
      if (!valid_digest(r.artifact_digest)) {
        err = Decision::deny(DenyReason::LogTampered,
                             log_path + ": authorized receipt seq " + std::to_string(r.seq) +
                                 " names no valid artifact digest; run gx log verify",
                             "file", log_path);
        return;
      }
      if (rebuild) {
        Tally& t = tally[r.artifact_digest];
        ++t.count;
        t.last_seq = r.seq;
        return;
      }
      sqlite3_bind_text(get.get(), 1, r.artifact_digest.c_str(), -1, SQLITE_TRANSIENT);
      int rc = get.step();
      const bool found = rc == SQLITE_ROW;
      const uint64_t last = found ? static_cast<uint64_t>(sqlite3_column_int64(get.get(), 0)) : 0;
      sqlite3_reset(get.get());
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        err = fail("cannot look up artifact");
        return;
      }
      if (found && r.seq <= last) return;
      sqlite3_stmt* w = found ? add.get() : create.get();
      sqlite3_bind_text(w, 1, r.artifact_digest.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(w, 2, static_cast<int64_t>(r.seq));
      if (!found) {
        sqlite3_bind_int64(w, 3, kUnknownMaxUses);
        sqlite3_bind_int64(w, 4, kUnknownNotAfter);
      }
      if (sqlite3_step(w) != SQLITE_DONE) err = fail("cannot record a use found in the log");
      sqlite3_reset(w);
    };
    auto end = scan_receipts(at.fd, log_path, from, at.offset, after, count);
    if (!end) return end.error();
    if (!err) return err;
    // A rebuild: every use the whole log records, never fewer than the
    // store already counts (a use spent without a receipt stays spent).
    // Every last_seq is made this log's (0: none of its receipts), or a
    // foreign one would hide this log's later receipts from the next
    // reconciliation.
    Stmt upsert(db_, "INSERT INTO uses (digest, spent, max_uses, not_after, last_seq) VALUES (?1, ?2, ?4, ?5, ?3) "
                     "ON CONFLICT(digest) DO UPDATE SET spent = max(spent, excluded.spent),"
                     " last_seq = excluded.last_seq");
    if (!upsert.ok()) return fail("cannot prepare the rebuild");
    if (rebuild)
      if (Decision d = exec("UPDATE uses SET last_seq = 0"); !d) return d;
    for (const auto& [digest, t] : tally) {
      sqlite3_bind_text(upsert.get(), 1, digest.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(upsert.get(), 2, static_cast<int64_t>(t.count));
      sqlite3_bind_int64(upsert.get(), 3, static_cast<int64_t>(t.last_seq));
      sqlite3_bind_int64(upsert.get(), 4, kUnknownMaxUses);
      sqlite3_bind_int64(upsert.get(), 5, kUnknownNotAfter);
      if (sqlite3_step(upsert.get()) != SQLITE_DONE) return fail("cannot record a use found in the log");
      sqlite3_reset(upsert.get());
    }
    // The scan must end where the appender found the log's end; else the
    // store's position is not in this log.
    if (end->seq != at.seq - 1 || end->hash != at.prev)
      return Decision::deny(DenyReason::LogTampered,
                            log_path + " at byte " + std::to_string(from) +
                                ": does not continue the receipt the use store records as synced (seq " +
                                std::to_string(sync->synced.seq) + "): the log was rewritten; run gx log verify",
                            "file", log_path);
  }
  Stmt up(db_, "UPDATE log_sync SET boot_id = ?1, synced_offset = ?2, synced_seq = ?3, synced_hash = ?4, legacy = 0 "
               "WHERE id = 1");
  if (!up.ok()) return fail("cannot prepare log_sync update");
  const std::string boot = binding_of(boot_id(), log_inode);
  sqlite3_bind_text(up.get(), 1, boot.c_str(), -1, SQLITE_STATIC);
  sqlite3_bind_int64(up.get(), 2, static_cast<int64_t>(at.offset));
  sqlite3_bind_int64(up.get(), 3, static_cast<int64_t>(at.seq - 1));
  sqlite3_bind_text(up.get(), 4, at.prev.c_str(), -1, SQLITE_STATIC);
  if (up.step() != SQLITE_DONE) return fail("cannot record the reconciliation");
  return Decision::allow();
}

Result<UseReservation> UseStore::reserve(const std::string& artifact_digest, uint32_t max_uses, UnixTime not_after) {
  return reserve_impl(artifact_digest, max_uses, not_after, nullptr);
}

Result<UseReservation> UseStore::reserve_logged(const std::string& artifact_digest, uint32_t max_uses,
                                                UnixTime not_after, const LogPosition& at) {
  return reserve_impl(artifact_digest, max_uses, not_after, &at);
}

Result<UseReservation> UseStore::reserve_impl(const std::string& artifact_digest, uint32_t max_uses,
                                              UnixTime not_after, const LogPosition* at) {
  sync_due_ = false;
  if (!valid_digest(artifact_digest))
    return Decision::deny(DenyReason::InvalidValue, "artifact digest must be sha256:<64 hex digits>", "digest",
                          artifact_digest);
  if (max_uses == 0) return replay_denial(artifact_digest, 0);

  auto begin = [&](Transaction& tx) -> Decision {
    if (int rc = tx.begin(); rc != SQLITE_OK) {
      if ((rc & 0xff) == SQLITE_BUSY) return fail("timed out waiting for the write lock (another gx holds it)");
      return fail("cannot begin a transaction");
    }
    return Decision::allow();
  };
  uint64_t synced_seq = 0;
  if (at) {
    // Read without the write lock: only a reconciliation changes boot_id or
    // legacy, and it runs under the log lock our caller holds.
    auto sync = read_log_sync(db_, [&](const std::string& w) { return fail(w); });
    if (!sync) return sync.error();
    synced_seq = sync->synced.seq;
    auto inode = inode_of(at->fd, dir_.path + "/" + std::string(kReceiptLogFile));
    if (!inode) return inode.error();
    const Reconcile mode = sync->legacy ? Reconcile::FromSynced : reconcile_mode(*sync, boot_id(), *inode);
    if (mode != Reconcile::No) {
      // Its own synced commit (synchronous=FULL), before the reservation;
      // the log lock keeps every other reservation out meanwhile.
      Transaction tx(db_);
      if (Decision d = begin(tx); !d) return d;
      if (Decision d = reconcile(*at, *inode, mode == Reconcile::Rebuild); !d) return d;
      if (tx.commit() != SQLITE_OK) return fail("cannot commit the reconciliation");
      synced_seq = at->seq - 1;
    }
  }

  // A logged reservation is committed without a sync: the authorized
  // receipt, synced next, is the durable record (lib/run_record.h).
  DeferredSync deferred(db_, at != nullptr);
  Transaction tx(db_);
  if (Decision d = begin(tx); !d) return d;
  Stmt select(db_, "SELECT spent, max_uses FROM uses WHERE digest = ?1");
  if (!select.ok()) return fail("cannot prepare lookup");
  sqlite3_bind_text(select.get(), 1, artifact_digest.c_str(), -1, SQLITE_STATIC);
  int rc = select.step();
  uint32_t spent = 0;
  uint32_t limit = max_uses;
  if (rc == SQLITE_ROW) {
    spent = clamp_uses(sqlite3_column_int64(select.get(), 0));
    // Same digest means same signed body, so the stored limit equals the
    // given one (or is unknown: a row made by reconciliation); if they ever
    // differ, the smaller wins.
    limit = std::min(limit, clamp_uses(sqlite3_column_int64(select.get(), 1)));
  } else if (rc != SQLITE_DONE) {
    return fail("cannot look up artifact");
  }
  sqlite3_reset(select.get());  // no statement may be left mid-read at COMMIT
  if (spent >= limit) return replay_denial(artifact_digest, limit);

  Stmt write(db_, rc == SQLITE_ROW
                      ? "UPDATE uses SET spent = spent + 1, max_uses = min(max_uses, ?2),"
                        " not_after = CASE WHEN not_after = ?5 THEN ?3 ELSE max(not_after, ?3) END,"
                        " last_seq = max(last_seq, ?4) WHERE digest = ?1"
                      : "INSERT INTO uses (digest, spent, max_uses, not_after, last_seq) VALUES (?1, 1, ?2, ?3, ?4)");
  if (!write.ok()) return fail("cannot prepare update");
  sqlite3_bind_text(write.get(), 1, artifact_digest.c_str(), -1, SQLITE_STATIC);
  sqlite3_bind_int64(write.get(), 2, max_uses);
  sqlite3_bind_int64(write.get(), 3, not_after);
  sqlite3_bind_int64(write.get(), 4, at ? static_cast<int64_t>(at->seq) : 0);
  if (rc == SQLITE_ROW) sqlite3_bind_int64(write.get(), 5, kUnknownNotAfter);
  if (write.step() != SQLITE_DONE) return fail("cannot record the use");
  // Committed before we return (reserve(): and fsync'd): the use is spent
  // even if this process dies before the child runs.
  if (tx.commit() != SQLITE_OK) return fail("cannot commit the use");
  sync_due_ = at && at->seq - synced_seq >= kUseStoreSyncEvery;
  return UseReservation{artifact_digest, spent + 1, limit};
}

Decision UseStore::note_log_durable(const AppendedReceipt& appended) {
  if (!sync_due_) return Decision::allow();
  sync_due_ = false;
  // synchronous=FULL: synced. It claims nothing that fails in any state of
  // the store that contains it: every reservation for a receipt up to
  // appended.line committed before that receipt was written (under the log
  // lock), hence before this commit; the log is durable through
  // appended.end (our caller synced it).
  Transaction tx(db_);
  if (tx.begin() != SQLITE_OK) return fail("cannot lock the use store");
  Stmt up(db_, "UPDATE log_sync SET synced_offset = ?1, synced_seq = ?2, synced_hash = ?3 "
               "WHERE id = 1 AND synced_seq < ?2 AND legacy = 0");
  if (!up.ok()) return fail("cannot prepare log_sync update");
  sqlite3_bind_int64(up.get(), 1, static_cast<int64_t>(appended.end));
  sqlite3_bind_int64(up.get(), 2, static_cast<int64_t>(appended.line));
  sqlite3_bind_text(up.get(), 3, appended.hash.c_str(), -1, SQLITE_STATIC);
  if (up.step() != SQLITE_DONE) return fail("cannot record the synced position");
  if (tx.commit() != SQLITE_OK) return fail("cannot commit the synced position");
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
  now = std::min<UnixTime>(now, now_unix());
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
