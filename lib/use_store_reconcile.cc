#include "lib/use_store_reconcile.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>

#include "lib/fsutil.h"
#include "lib/receipt_log_file.h"
#include "lib/sqlite_stmt.h"
#include "lib/use_store.h"
#include "lib/use_store_db.h"

namespace gx {
namespace use_store_db {

using sqlite::Stmt;

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

const char* const kLogSyncQuery =
    "SELECT boot_id, synced_offset, synced_seq, synced_hash, legacy FROM log_sync WHERE id = 1";

Result<LogSync> read_log_sync(sqlite3* db, const std::function<Decision(const std::string&)>& fail,
                              sqlite::StmtCache& stmts) {
  auto q = stmts.use(db, kLogSyncQuery);
  if (!q.ok() || q.step() != SQLITE_ROW) return fail("cannot read log_sync");
  LogSync s;
  s.boot_id = sqlite::column_text(q.get(), 0);
  s.offset = static_cast<uint64_t>(sqlite3_column_int64(q.get(), 1));
  s.synced.seq = static_cast<uint64_t>(sqlite3_column_int64(q.get(), 2));
  s.synced.hash = sqlite::column_text(q.get(), 3);
  s.legacy = sqlite3_column_int64(q.get(), 4) != 0;
  return s;
}

std::string binding_of(const std::string& boot, uint64_t log_inode, const std::string& log_id) {
  return boot + "/" + std::to_string(log_inode) + "/" + log_id;
}

Reconcile reconcile_mode(const LogSync& s, const std::string& boot, uint64_t log_inode, const std::string& log_id) {
  if (s.boot_id.empty()) return Reconcile::FromSynced;
  // The boot id (a UUID) holds no '/'.
  const auto slash = s.boot_id.find('/');
  // Bound to another log, or in an older form that names no log id: its
  // rows' last_seq and its synced position may mean nothing here. Recount
  // the whole log (counts only ever go up).
  if (slash == std::string::npos ||
      s.boot_id.compare(slash + 1, std::string::npos, std::to_string(log_inode) + "/" + log_id) != 0)
    return Reconcile::Rebuild;
  if (boot.empty() || s.boot_id.compare(0, slash, boot) != 0) return Reconcile::FromSynced;
  return Reconcile::No;
}

Result<uint64_t> inode_of(int fd, const std::string& path) {
  struct stat st {};
  if (fstat(fd, &st) != 0)
    return Decision::deny(DenyReason::LogUnavailable, "cannot stat " + path + ": " + fs::errno_text(errno));
  return static_cast<uint64_t>(st.st_ino);
}

}  // namespace use_store_db

namespace {

// A rebuild's tally: per digest, its authorized receipts in the whole log
// and the seq of the last one.
struct Tally {
  uint64_t count = 0;
  uint64_t last_seq = 0;
};

}  // namespace

using sqlite::Stmt;
using use_store_db::binding_of;
using use_store_db::clamp_uses;
using use_store_db::kernel_boot_id;
using use_store_db::kUnknownMaxUses;
using use_store_db::kUnknownNotAfter;
using use_store_db::read_log_sync;
using use_store_db::Reconcile;
using use_store_db::reconcile_mode;
using use_store_db::replay_denial;
using use_store_db::state_error;
using use_store_db::Transaction;
using use_store_db::valid_digest;

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
  auto sync = read_log_sync(
      db_, [&](const std::string& w) { return fail(w); }, *stmts_);
  if (!sync) return sync.error();
  struct stat st {};
  const bool has_log = fstatat(dir_.fd.get(), std::string(kReceiptLogFile).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
  // A dry run reads the head itself (a reservation gets its log id from
  // the append that reads it anyway).
  std::string log_id;
  if (has_log && !sync->legacy) {
    const receipt_file::HeadRead head = receipt_file::read_head(dir_);
    if (head.head) log_id = head.head->log_id;
  }
  const Reconcile mode = sync->legacy || !has_log
                             ? Reconcile::No
                             : reconcile_mode(*sync, boot_id(), static_cast<uint64_t>(st.st_ino), log_id);
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
  auto sync = read_log_sync(
      db_, [&](const std::string& w) { return fail(w); }, *stmts_);
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
    Stmt upsert(db_,
                "INSERT INTO uses (digest, spent, max_uses, not_after, last_seq) VALUES (?1, ?2, ?4, ?5, ?3) "
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
  Stmt up(db_,
          "UPDATE log_sync SET boot_id = ?1, synced_offset = ?2, synced_seq = ?3, synced_hash = ?4, legacy = 0 "
          "WHERE id = 1");
  if (!up.ok()) return fail("cannot prepare log_sync update");
  const std::string boot = binding_of(boot_id(), log_inode, at.log_id);
  sqlite3_bind_text(up.get(), 1, boot.c_str(), -1, SQLITE_STATIC);
  sqlite3_bind_int64(up.get(), 2, static_cast<int64_t>(at.offset));
  sqlite3_bind_int64(up.get(), 3, static_cast<int64_t>(at.seq - 1));
  sqlite3_bind_text(up.get(), 4, at.prev.c_str(), -1, SQLITE_STATIC);
  if (up.step() != SQLITE_DONE) return fail("cannot record the reconciliation");
  return Decision::allow();
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
  Stmt up(db_,
          "UPDATE log_sync SET synced_offset = ?1, synced_seq = ?2, synced_hash = ?3 "
          "WHERE id = 1 AND synced_seq < ?2 AND legacy = 0");
  if (!up.ok()) return fail("cannot prepare log_sync update");
  sqlite3_bind_int64(up.get(), 1, static_cast<int64_t>(appended.end));
  sqlite3_bind_int64(up.get(), 2, static_cast<int64_t>(appended.line));
  sqlite3_bind_text(up.get(), 3, appended.hash.c_str(), -1, SQLITE_STATIC);
  if (up.step() != SQLITE_DONE) return fail("cannot record the synced position");
  if (tx.commit() != SQLITE_OK) return fail("cannot commit the synced position");
  return Decision::allow();
}

}  // namespace gx
