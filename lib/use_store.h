// The spent-use store: how many of an artifact's max_uses have been consumed
// (replay protection).
//
// One SQLite database, <state>/uses.db (directory 0700, file 0600), in WAL
// mode with synchronous=FULL (NORMAL only for reserve_logged()'s commit,
// below); the WAL file (uses.db-wal, and uses.db-shm)
// persists between processes and is checkpointed by SQLite's automatic
// checkpoints, not on every close (SQLITE_FCNTL_PERSIST_WAL,
// SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE). gx creates uses.db and uses.db-wal
// itself and syncs the directory when it does, so no connection needs
// SQLite's own directory sync. One row per artifact digest ("sha256:<hex>" of
// the signed body — never of signature bytes, which are malleable), looked
// up by primary key (a B-tree: the cost of a run grows with log n, which at
// 1,000,000 rows is a page or two more than at 1,000).
//
// Two ways to spend a use:
//   - reserve_logged() (gx run, lib/run_record.h): called under the receipt
//     log's append lock, just before the `authorized` receipt is written,
//     with the seq S that receipt will get. It commits the use and records
//     S on the digest's row (last_seq), WITHOUT syncing: the authorized
//     receipt, fdatasync'd before anything runs, is the durable record of
//     the spent use, and the store is a cache of the log that is reconciled
//     from it after a power loss (the argument: lib/run_record.h).
//   - reserve(): committed and fsync'd before it returns (synchronous=FULL),
//     for a store used without a receipt log (tests, benchmarks).
// Both run in BEGIN IMMEDIATE, so concurrent gx processes serialize on the
// database write lock: of N racing processes on an artifact with K uses
// left, exactly K succeed. Waiting is bounded by the busy timeout; a timeout
// that expires denies (StateUnavailable), never allows. Any error --
// unreadable, unwritable, corrupt, foreign schema version, lock timeout --
// is StateUnavailable. It never "allows to be safe".
//
// Reconciliation (schema 2). A single-row table `log_sync` holds boot_id
// ("<boot>/<inode>/<log id>": the kernel boot under which the store's
// unsynced commits were made, and the inode and the log id -- the random
// id receipts.head keeps, lib/receipt_log_file.h -- of the receipts.log it
// counts) and
// synced_offset / synced_seq / synced_hash: a position in receipts.log,
// known durable in the log, before which every authorized receipt is
// counted in the store. reserve_logged() first compares boot_id with the
// current boot (/proc/sys/kernel/random/boot_id; unreadable: always
// different). When they differ (first reservation after a reboot, a new or
// copied store): the log is fdatasync'd up to the reservation's position,
// its receipts from synced_offset on are read strictly (scan_receipts: a
// malformed or unlinked record is LogTampered, a log ending before
// synced_offset is LogTampered "truncated"; nothing is skipped), every
// authorized receipt of digest D with seq > row(D).last_seq is counted as a
// spent use, and boot_id and the synced position are updated in a synced
// commit -- all before the reservation proceeds. Every kUseStoreSyncEvery
// reservations note_log_durable() advances the synced position (one synced
// commit) to bound that re-read. A store bound to another receipts.log (a
// different log id: uses.db copied from another state directory, even one
// whose log has the same inode number on another file system; or a
// different inode: a state directory copied whole) is rebuilt instead, in
// the same way: the whole log is read, each row's spent becomes max(its
// spent, the log's authorized receipts of that digest) and its last_seq
// the seq of that digest's last authorized receipt in this log (0 if none)
// -- another log's last_seq and synced position mean nothing here. (The
// device number is not compared: it may change across boots, and repeats
// across tmpfs mounts; the log id is what tells logs apart.) A binding of
// earlier gx ("<boot>/<inode>", or "<boot>") names no log id and is rebuilt
// once, which is safe. The log id costs nothing per run: the append that
// reserves the use has read receipts.head already (LogPosition::log_id).
// A store of schema 1 (every commit synced) is adopted as complete at its
// first reservation. Cost: a new store beside a long log reads all of it
// once, under the log's lock (other gx runs wait).
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
#include <memory>
#include <optional>
#include <string>

#include "lib/artifact.h"
#include "lib/decision.h"
#include "lib/fsutil.h"
#include "lib/receipt_log.h"

struct sqlite3;

namespace gx {
namespace sqlite {
class StmtCache;
}

inline constexpr int kUseStoreBusyTimeoutMs = 10'000;
inline constexpr int kUseStoreSchemaVersion = 2;
// How many reservations may pass before note_log_durable() advances the
// synced position (bounds the log a reconciliation re-reads).
inline constexpr uint64_t kUseStoreSyncEvery = 1024;
// `gx state prune` keeps an entry until its artifact's not_after plus this
// margin has passed, so a verifier that tolerates clock skew can never see
// a pruned (hence "unused") artifact it would still accept.
inline constexpr int64_t kUseStorePruneMarginSeconds = 24 * 3600;

// UseStore::bound_wal() checkpoints and truncates uses.db-wal beyond this size
// (~30 runs' frames): a run's WAL recovery reads at most this much.
inline constexpr int64_t kUseStoreWalLimitBytes = 256 * 1024;

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

  // Atomically and durably consumes one use (committed and fsync'd; no
  // receipt log involved). artifact_digest must be "sha256:<64 lowercase
  // hex>" (InvalidValue otherwise). When all max_uses are spent: Replay,
  // detail "all N uses of artifact <digest> are spent".
  Result<UseReservation> reserve(const std::string& artifact_digest, uint32_t max_uses, UnixTime not_after);
  // The same for the receipt that ReceiptLog::append is about to write at
  // `at` (call it from append's BeforeWrite, under the log lock): reconciles
  // first when needed (above), then commits the use with last_seq = at.seq,
  // not synced. The caller must make that receipt durable (fdatasync of the
  // log) before it executes anything. Errors as reserve(), plus the
  // reconciliation's (LogTampered, LogUnavailable, StateUnavailable).
  Result<UseReservation> reserve_logged(const std::string& artifact_digest, uint32_t max_uses, UnixTime not_after,
                                        const LogPosition& at);
  // Compiles the statements reserve_logged() runs into this connection's
  // cache (~15 us each), so that a caller with a second CPU has them
  // compiled there while its first verifies (gx run's side work). Changes
  // nothing and takes no write lock (compiling reads the schema); a
  // statement that fails to compile here is compiled (and its error
  // reported) by reserve_logged() as before.
  void prepare_reservation();
  // Call after the receipt of the last reserve_logged() is durable in the
  // log (ends at `appended.end`): every kUseStoreSyncEvery reservations,
  // records that position as synced (one synced commit). Best effort for
  // the caller: a failure only means a longer re-read after a power loss.
  Decision note_log_durable(const AppendedReceipt& appended);

  // Keeps uses.db-wal short. Every gx process is the first connection to
  // uses.db, and SQLite's first connection rebuilds the WAL index by reading
  // the whole WAL, which that index then never marks as checkpointed: with
  // the WAL kept between processes it grew by every commit (8 KB a run) and
  // every run read all of it (docs/performance.md). When uses.db-wal is over
  // kUseStoreWalLimitBytes, this runs a TRUNCATE checkpoint: every frame is
  // copied into uses.db, which is synced, and the WAL is cut to zero. It
  // never waits: when another connection holds a lock it does nothing (a
  // later run will). Call it off the critical path (gx run: once the child
  // has started). Errors are not the run's: the caller reports them as a
  // warning. Durability is SQLite's checkpoint's (lib/run_record.h).
  Decision bound_wal();

  // Test seam (never reachable from the command line or the environment):
  // the boot id this store compares with, instead of the kernel's.
  void override_boot_id_for_testing(std::string boot_id) { boot_id_override_ = std::move(boot_id); }

  // check_left() for a state directory without uses.db: the uses the
  // store would count from <state>/receipts.log when created (none when
  // the state directory or the log does not exist). Creates nothing.
  static Decision check_left_without_store(const std::string& state_dir, const std::string& artifact_digest,
                                           uint32_t max_uses);

  // The record for one artifact, or nullopt when no use was consumed yet.
  Result<std::optional<UseRecord>> lookup(const std::string& artifact_digest);
  // Read-only: would reserve_logged() find a use left? (gx run --dry-run.)
  // Denies with exactly the Replay decision it would return: when the store
  // would be reconciled first, the receipts it would count are read (from
  // <state>/receipts.log, without the log's lock) and counted too, and a log
  // that reconciliation would refuse is refused (LogTampered).
  Decision check_left(const std::string& artifact_digest, uint32_t max_uses);

  // Deletes entries whose not_after + margin_seconds < now; returns how many.
  // Safe: an expired artifact is denied before reserve() is ever reached.
  // `now` is capped at the clock: a caller-supplied future time must never
  // forget the uses of an artifact that is still valid.
  Result<uint64_t> prune(UnixTime now, int64_t margin_seconds = kUseStorePruneMarginSeconds);

  Result<UseStoreStats> stats();

 private:
  UseStore(sqlite3* db, std::string path, fs::OpenDir dir);
  Decision fail(const std::string& what) const;
  Decision exec(const std::string& sql);
  std::string boot_id() const;
  Decision reconcile(const LogPosition& at, uint64_t log_inode, bool rebuild);
  Result<UseReservation> reserve_impl(const std::string& artifact_digest, uint32_t max_uses, UnixTime not_after,
                                      const LogPosition* at);

  sqlite3* db_ = nullptr;
  // The statements every reservation runs, prepared once (lib/sqlite_stmt.h);
  // finalized before db_ is closed.
  std::unique_ptr<sqlite::StmtCache> stmts_;
  std::string path_;
  fs::OpenDir dir_;
  std::string boot_id_override_;
  bool sync_due_ = false;  // the last reserve_logged() asks note_log_durable() for a synced commit
};

}  // namespace gx
