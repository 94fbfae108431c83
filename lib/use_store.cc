#include "lib/use_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <functional>
#include <thread>

#include "lib/clock.h"
#include "lib/crypto.h"
#include "lib/fsutil.h"
#include "lib/sqlite_stmt.h"
#include "lib/use_store_db.h"
#include "lib/use_store_reconcile.h"

namespace gx {
namespace {

using sqlite::Stmt;
using use_store_db::clamp_uses;
using use_store_db::inode_of;
using use_store_db::kMigrate1to2;
using use_store_db::kSchema;
using use_store_db::kUnknownNotAfter;
using use_store_db::log_sync_row;
using use_store_db::prepare_db_files;
using use_store_db::read_log_sync;
using use_store_db::Reconcile;
using use_store_db::reconcile_mode;
using use_store_db::replay_denial;
using use_store_db::state_error;
using use_store_db::Transaction;
using use_store_db::valid_digest;

}  // namespace

// The state directory holds the only record of spent uses: refuse one that
// someone else could rewrite or swap (fs::open_private_dir checks the
// directory and every ancestor).
Result<fs::OpenDir> open_state_dir(const std::string& dir) {
  auto d = fs::open_private_dir(dir, true);
  if (!d)
    return state_error("state directory unusable: " + d.error().detail,
                       d.error().value.empty() ? dir : d.error().value);
  return d;
}

Decision ensure_state_dir(const std::string& dir) {
  auto d = open_state_dir(dir);
  return d ? Decision::allow() : d.error();
}

namespace {
// Commits of a Deferred reserve() write their WAL frames without syncing
// them (synchronous=NORMAL); sync() makes them durable. Restores FULL on
// every path out.
class DeferredSync {
 public:
  DeferredSync(sqlite3* db, sqlite::StmtCache& stmts, bool deferred) : db_(deferred ? db : nullptr), stmts_(stmts) {
    if (db_ && stmts_.exec(db_, "PRAGMA synchronous=NORMAL") != SQLITE_OK) db_ = nullptr;
  }
  ~DeferredSync() {
    if (db_) stmts_.exec(db_, "PRAGMA synchronous=FULL");
  }
  DeferredSync(const DeferredSync&) = delete;
  DeferredSync& operator=(const DeferredSync&) = delete;

 private:
  sqlite3* db_;
  sqlite::StmtCache& stmts_;
};

// What a reservation runs (reserve_impl, prepare_reservation).
constexpr const char* kLookupUse = "SELECT spent, max_uses, not_after FROM uses WHERE digest = ?1";
constexpr const char* kInsertUse =
    "INSERT INTO uses (digest, spent, max_uses, not_after, last_seq) VALUES (?1, 1, ?2, ?3, ?4)";
constexpr const char* kSpendUseNewNotAfter =
    "UPDATE uses SET spent = spent + 1, max_uses = min(max_uses, ?2),"
    " not_after = CASE WHEN not_after = ?5 THEN ?3 ELSE max(not_after, ?3) END,"
    " last_seq = max(last_seq, ?4) WHERE digest = ?1";
constexpr const char* kSpendUse =
    "UPDATE uses SET spent = spent + 1, max_uses = min(max_uses, ?2), last_seq = max(last_seq, ?4) WHERE digest = ?1";

}  // namespace

std::string UseStore::db_path(const std::string& state_dir) { return state_dir + "/" + use_store_db::kDbFile; }

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

  sqlite::configure_once();
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW, nullptr);
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
      if (Decision d = store.exec(log_sync_row(false)); !d) return d;
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
      if (Decision d = store.exec(log_sync_row(true)); !d) return d;
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

UseStore::UseStore(sqlite3* db, std::string path, fs::OpenDir dir)
    : db_(db), stmts_(std::make_unique<sqlite::StmtCache>()), path_(std::move(path)), dir_(std::move(dir)) {}

UseStore::UseStore(UseStore&& other) noexcept
    : db_(other.db_),
      stmts_(std::move(other.stmts_)),
      path_(std::move(other.path_)),
      dir_(std::move(other.dir_)),
      boot_id_override_(std::move(other.boot_id_override_)),
      sync_due_(other.sync_due_) {
  other.db_ = nullptr;
}

UseStore& UseStore::operator=(UseStore&& other) noexcept {
  if (this != &other) {
    stmts_.reset();
    sqlite3_close(db_);
    db_ = other.db_;
    stmts_ = std::move(other.stmts_);
    path_ = std::move(other.path_);
    dir_ = std::move(other.dir_);
    boot_id_override_ = std::move(other.boot_id_override_);
    sync_due_ = other.sync_due_;
    other.db_ = nullptr;
  }
  return *this;
}

UseStore::~UseStore() {
  stmts_.reset();  // finalized first: a connection with statements left does not close
  sqlite3_close(db_);
}

Result<UseReservation> UseStore::reserve(const std::string& artifact_digest, uint32_t max_uses, UnixTime not_after) {
  return reserve_impl(artifact_digest, max_uses, not_after, nullptr);
}

Result<UseReservation> UseStore::reserve_logged(const std::string& artifact_digest, uint32_t max_uses,
                                                UnixTime not_after, const LogPosition& at) {
  return reserve_impl(artifact_digest, max_uses, not_after, &at);
}

Result<UseReservation> UseStore::reserve_impl(const std::string& artifact_digest, uint32_t max_uses, UnixTime not_after,
                                              const LogPosition* at) {
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
    auto sync = read_log_sync(
        db_, [&](const std::string& w) { return fail(w); }, *stmts_);
    if (!sync) return sync.error();
    synced_seq = sync->synced.seq;
    auto inode = inode_of(at->fd, dir_.path + "/" + std::string(kReceiptLogFile));
    if (!inode) return inode.error();
    const Reconcile mode = sync->legacy ? Reconcile::FromSynced : reconcile_mode(*sync, boot_id(), *inode, at->log_id);
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
  DeferredSync deferred(db_, *stmts_, at != nullptr);
  Transaction tx(db_, stmts_.get());
  if (Decision d = begin(tx); !d) return d;
  auto select = stmts_->use(db_, kLookupUse);
  if (!select.ok()) return fail("cannot prepare lookup");
  sqlite3_bind_text(select.get(), 1, artifact_digest.c_str(), -1, SQLITE_STATIC);
  int rc = select.step();
  uint32_t spent = 0;
  uint32_t limit = max_uses;
  int64_t stored_not_after = 0;
  if (rc == SQLITE_ROW) {
    spent = clamp_uses(sqlite3_column_int64(select.get(), 0));
    // Same digest means same signed body, so the stored limit equals the
    // given one (or is unknown: a row made by reconciliation); if they ever
    // differ, the smaller wins.
    limit = std::min(limit, clamp_uses(sqlite3_column_int64(select.get(), 1)));
    stored_not_after = sqlite3_column_int64(select.get(), 2);
  } else if (rc != SQLITE_DONE) {
    return fail("cannot look up artifact");
  }
  sqlite3_reset(select.get());  // no statement may be left mid-read at COMMIT
  if (spent >= limit) return replay_denial(artifact_digest, limit);

  // not_after is assigned only when it changes (a row a reconciliation made
  // without it, or a later one): naming an indexed column in SET rewrites
  // its index entry even with the same value, a second WAL page per run
  // that every later gx process's WAL recovery reads and checksums again.
  const bool new_not_after =
      rc == SQLITE_ROW &&
      (stored_not_after == kUnknownNotAfter ? not_after : std::max(stored_not_after, not_after)) != stored_not_after;
  auto write = stmts_->use(db_, rc != SQLITE_ROW ? kInsertUse : new_not_after ? kSpendUseNewNotAfter : kSpendUse);
  if (!write.ok()) return fail("cannot prepare update");
  sqlite3_bind_text(write.get(), 1, artifact_digest.c_str(), -1, SQLITE_STATIC);
  sqlite3_bind_int64(write.get(), 2, max_uses);
  sqlite3_bind_int64(write.get(), 3, not_after);
  sqlite3_bind_int64(write.get(), 4, at ? static_cast<int64_t>(at->seq) : 0);
  if (new_not_after) sqlite3_bind_int64(write.get(), 5, kUnknownNotAfter);
  if (write.step() != SQLITE_DONE) return fail("cannot record the use");
  // Committed before we return (reserve(): and fsync'd): the use is spent
  // even if this process dies before the child runs.
  if (tx.commit() != SQLITE_OK) return fail("cannot commit the use");
  sync_due_ = at && at->seq - synced_seq >= kUseStoreSyncEvery;
  return UseReservation{artifact_digest, spent + 1, limit};
}

void UseStore::prepare_reservation() {
  // Not the PRAGMAs DeferredSync runs: SQLite compiles a PRAGMA again every
  // time it runs (lib/sqlite_stmt.h).
  for (const char* sql : {use_store_db::kLogSyncQuery, Transaction::kBegin, kLookupUse, kInsertUse, kSpendUse,
                          kSpendUseNewNotAfter, Transaction::kCommit})
    (void)stmts_->use(db_, sql);
}

Result<std::optional<UseRecord>> UseStore::lookup(const std::string& artifact_digest) {
  Stmt select(db_, "SELECT spent, max_uses, not_after FROM uses WHERE digest = ?1");
  if (!select.ok()) return fail("cannot prepare lookup");
  sqlite3_bind_text(select.get(), 1, artifact_digest.c_str(), -1, SQLITE_STATIC);
  int rc = select.step();
  if (rc == SQLITE_DONE) return std::optional<UseRecord>{};
  if (rc != SQLITE_ROW) return fail("cannot look up artifact");
  return std::optional<UseRecord>{
      UseRecord{artifact_digest, static_cast<uint32_t>(sqlite3_column_int64(select.get(), 0)),
                static_cast<uint32_t>(sqlite3_column_int64(select.get(), 1)), sqlite3_column_int64(select.get(), 2)}};
}

Decision UseStore::bound_wal() {
  struct stat st {};
  if (fstatat(dir_.fd.get(), use_store_db::kWalFile, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
      st.st_size <= kUseStoreWalLimitBytes)
    return Decision::allow();
  // A zero busy timeout: the checkpoint must never hold up this run or wait
  // behind another; SQLITE_BUSY just leaves it to a later run.
  sqlite3_busy_timeout(db_, 0);
  int rc = sqlite3_wal_checkpoint_v2(db_, "main", SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  sqlite3_busy_timeout(db_, kUseStoreBusyTimeoutMs);
  if (rc == SQLITE_OK || (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) return Decision::allow();
  return fail("cannot checkpoint the use store's WAL (" + std::to_string(st.st_size) + " bytes)");
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
