// The spent-use store: how many of an artifact's max_uses have been consumed
// (replay protection).
//
// One SQLite database, <state>/uses.db (directory 0700, file 0600), in WAL
// mode with synchronous=FULL; the WAL file (uses.db-wal, and uses.db-shm)
// persists between processes and is checkpointed by SQLite's automatic
// checkpoints, not on every close (SQLITE_FCNTL_PERSIST_WAL,
// SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE). gx creates uses.db and uses.db-wal
// itself and syncs the directory when it does, so no connection needs
// SQLite's own directory sync. One row per artifact digest ("sha256:<hex>" of
// the signed body — never of signature bytes, which are malleable), looked
// up by primary key (a B-tree: the cost of a run grows with log n, which at
// 1,000,000 rows is a page or two more than at 1,000).
//
// Contract of reserve():
//   - It consumes one use BEFORE the caller executes anything. With
//     UseDurability::Synced (the default) the use is committed and fsync'd
//     when reserve() returns, so a crash or kill -9 between reserve() and
//     exec counts the use as spent (fail closed: a lost run is preferable to
//     an extra one). With UseDurability::Deferred it is committed (visible
//     to every other process, which is what the write lock serializes) but
//     not yet synced: the caller must call sync() and see it succeed before
//     it executes anything (lib/run_record.h does both, and pays for the
//     receipt's sync in the same step).
//   - It runs in BEGIN IMMEDIATE, so concurrent gx processes serialize on
//     the database write lock: of N racing processes on an artifact with K
//     uses left, exactly K succeed. Waiting is bounded by the busy timeout;
//     a timeout that expires denies (StateUnavailable), never allows.
//   - Any error — unreadable, unwritable, corrupt, foreign schema version,
//     lock timeout — is StateUnavailable. It never "allows to be safe".
//
// Security caveat: the store's integrity rests on file permissions. Anyone
// who can write <state> (the invoking user outside gx, or a governed child
// whose sandbox grants it write access there) can delete uses.db and reset
// every count. gx refuses a state directory that is group/other-writable or
// owned by another user; the sandbox must never grant the child <state>.
//
// A UseStore holds one SQLite connection: do not share it across fork(2);
// open a new one in each process. Not thread-safe; one per thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "lib/artifact.h"
#include "lib/decision.h"
#include "lib/fsutil.h"

struct sqlite3;

namespace gx {

inline constexpr int kUseStoreBusyTimeoutMs = 10'000;
inline constexpr int kUseStoreSchemaVersion = 1;
// `gx state prune` keeps an entry until its artifact's not_after plus this
// margin has passed, so a verifier that tolerates clock skew can never see
// a pruned (hence "unused") artifact it would still accept.
inline constexpr int64_t kUseStorePruneMarginSeconds = 24 * 3600;

struct UseReservation {
  std::string artifact_digest;
  uint32_t use_number = 0;  // 1-based: this run is use `use_number` of `max_uses`
  uint32_t max_uses = 0;
  uint32_t remaining() const { return max_uses - use_number; }
};

struct UseRecord {
  std::string artifact_digest;
  uint32_t spent = 0;
  uint32_t max_uses = 0;
  UnixTime not_after = 0;
};

// When a reserved use reaches the disk (see reserve()).
enum class UseDurability { Synced, Deferred };

struct UseStoreStats {
  uint64_t entries = 0;    // artifacts with at least one use consumed
  uint64_t exhausted = 0;  // of which every use is spent
};

// Creates the state directory (0700) if needed, resolves it once (symlinks
// in the given path are followed, then never again) and refuses it unless
// it and every ancestor pass fs::open_private_dir's StrictModes-like check
// (StateUnavailable). Shared by everything gx keeps in <state>: open files
// in it with fs::open_in_dir (no links, no FIFOs).
Result<fs::OpenDir> open_state_dir(const std::string& state_dir);
Decision ensure_state_dir(const std::string& state_dir);  // open_state_dir, result dropped

class UseStore {
 public:
  // Opens (creating if needed) <state_dir>/uses.db. Creates state_dir 0700.
  // Denies StateUnavailable when the directory is unsafe (not a directory,
  // owned by another user, group/other-writable) or the database cannot be
  // opened, is corrupt or has an unknown schema version.
  static Result<UseStore> open(const std::string& state_dir, int busy_timeout_ms = kUseStoreBusyTimeoutMs);
  static std::string db_path(const std::string& state_dir);  // <state_dir>/uses.db

  UseStore(UseStore&& other) noexcept;
  UseStore& operator=(UseStore&& other) noexcept;
  UseStore(const UseStore&) = delete;
  UseStore& operator=(const UseStore&) = delete;
  ~UseStore();

  // Atomically and durably consumes one use (see the contract above).
  // artifact_digest must be "sha256:<64 lowercase hex>" (InvalidValue
  // otherwise). When all max_uses are spent: Replay, detail
  // "all N uses of artifact <digest> are spent".
  Result<UseReservation> reserve(const std::string& artifact_digest, uint32_t max_uses, UnixTime not_after,
                                 UseDurability durability = UseDurability::Synced);
  // Makes every commit of this store so far durable: fdatasync of
  // uses.db-wal (opened by name in the private state directory; the WAL is
  // append-only between checkpoints and its frames carry cumulative
  // checksums, so once synced, recovery replays every committed transaction
  // up to and including ours). Cheap to call repeatedly; StateUnavailable
  // on failure.
  Decision sync();

  // The record for one artifact, or nullopt when no use was consumed yet.
  Result<std::optional<UseRecord>> lookup(const std::string& artifact_digest);
  // Read-only: would reserve() find a use left? (gx run --dry-run.) Denies
  // with exactly the Replay decision reserve() would return.
  Decision check_left(const std::string& artifact_digest, uint32_t max_uses);

  // Deletes entries whose not_after + margin_seconds < now; returns how many.
  // Safe: an expired artifact is denied before reserve() is ever reached.
  // `now` is capped at the clock: a caller-supplied future time must never
  // forget the uses of an artifact that is still valid.
  Result<uint64_t> prune(UnixTime now, int64_t margin_seconds = kUseStorePruneMarginSeconds);

  Result<UseStoreStats> stats();

 private:
  UseStore(sqlite3* db, std::string path, fs::OpenDir dir) : db_(db), path_(std::move(path)), dir_(std::move(dir)) {}
  Decision fail(const std::string& what) const;
  Decision exec(const char* sql);

  sqlite3* db_ = nullptr;
  std::string path_;
  fs::OpenDir dir_;
};

}  // namespace gx
