#include "lib/use_store_db.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "lib/crypto.h"
#include "lib/receipt.h"

namespace gx::use_store_db {

// log_sync, in a new store and in the schema-1 upgrade alike (one text: the
// two must never differ).
#define GX_LOG_SYNC_TABLE                    \
  "CREATE TABLE log_sync ("                  \
  "  id INTEGER PRIMARY KEY CHECK (id = 1)," \
  "  boot_id TEXT NOT NULL,"                 \
  "  synced_offset INTEGER NOT NULL,"        \
  "  synced_seq INTEGER NOT NULL,"           \
  "  synced_hash TEXT NOT NULL,"             \
  "  legacy INTEGER NOT NULL"                \
  ");"

// Schema 2: uses.last_seq and log_sync (lib/use_store.h, "Reconciliation").
// A new store has never been reconciled (boot_id ''): its first reservation
// counts every authorized receipt of the log.
const char* const kSchema =
    "CREATE TABLE IF NOT EXISTS uses ("
    "  digest TEXT PRIMARY KEY NOT NULL,"
    "  spent INTEGER NOT NULL,"
    "  max_uses INTEGER NOT NULL,"
    "  not_after INTEGER NOT NULL,"
    "  last_seq INTEGER NOT NULL DEFAULT 0"
    ") WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS uses_not_after ON uses(not_after);" GX_LOG_SYNC_TABLE "PRAGMA user_version = 2;";

// Schema 1 -> 2. Every commit of a schema-1 store was synced before its run
// (UseDurability::Synced, or the two-sync record of earlier gx): it is
// complete, and is adopted as reconciled up to the log's end at its first
// reserve_logged() (legacy = 1); its rows have last_seq 0.
const char* const kMigrate1to2 =
    "ALTER TABLE uses ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;" GX_LOG_SYNC_TABLE "PRAGMA user_version = 2;";
#undef GX_LOG_SYNC_TABLE

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

Decision replay_denial(const std::string& artifact_digest, uint32_t limit) {
  return Decision::deny(DenyReason::Replay,
                        "all " + std::to_string(limit) + " uses of artifact " + artifact_digest + " are spent",
                        "max_uses", std::to_string(limit));
}

uint32_t clamp_uses(int64_t v) { return static_cast<uint32_t>(std::clamp<int64_t>(v, 0, kUnknownMaxUses)); }

// Pre-creates the database and its WAL 0600 (SQLite would use 0644 & ~umask)
// and checks an existing database. gx, not SQLite, creates uses.db-wal, and
// syncs the directory whenever it created either file: SQLite syncs the
// directory the first time every connection syncs a WAL it opened with
// O_CREAT (it cannot know the file is old), which cost each `gx run` one
// more fsync. Under an flock(2) on uses.db (independent of SQLite's fcntl
// locks), so no process can find the WAL before its creator synced it.
Decision prepare_db_files(const fs::OpenDir& dir) {
  bool created = !fs::exists_in(dir, kDbFile);
  auto fd = fs::open_in_dir(dir, kDbFile, O_RDWR | O_CREAT, 0600);
  if (!fd) return state_error(fd.error().detail, fd.error().value);
  const std::string path = dir.path + "/uses.db";
  struct stat st {};
  if (fstat(fd->get(), &st) != 0) return state_error("cannot stat " + path + ": " + fs::errno_text(errno), path);
  if (st.st_uid != geteuid()) return state_error(path + " is owned by another user", path);
  if ((st.st_mode & 077) != 0 && fchmod(fd->get(), 0600) != 0)
    return state_error("cannot chmod " + path + ": " + fs::errno_text(errno), path);
  if (int err = fs::flock_retrying(fd->get(), LOCK_EX); err != 0)
    return state_error("cannot lock " + path + ": " + fs::errno_text(err), path);
  if (!fs::exists_in(dir, kWalFile)) {
    auto wal = fs::open_in_dir(dir, kWalFile, O_RDWR | O_CREAT, 0600);
    if (!wal) return state_error(wal.error().detail, wal.error().value);
    created = true;
  }
  if (created && fsync(dir.fd.get()) != 0)
    return state_error("cannot sync " + dir.path + ": " + fs::errno_text(errno), dir.path);
  return Decision::allow();  // closing fd releases the flock
}

}  // namespace gx::use_store_db
