// Reconciling the use store from the receipt log (the contract:
// lib/use_store.h, "Reconciliation"): the log_sync row, the boot id it is
// compared with, and when a store must be reconciled. UseStore's members
// that read the log (check_left, check_left_without_store, reconcile,
// note_log_durable) are defined in use_store_reconcile.cc. Internal to the
// use store.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <string>

#include "lib/decision.h"
#include "lib/receipt_scan.h"
#include "lib/sqlite_stmt.h"

namespace gx::use_store_db {

// The log position up to which a store is reconciled (the log_sync row).
struct LogSync {
  std::string boot_id;
  uint64_t offset = 0;
  ScanEnd synced;  // the receipt ending at `offset` (seq 0, genesis: none)
  bool legacy = false;
};

// The kernel's boot id (/proc/sys/kernel/random/boot_id; empty when
// unreadable). Read once per process: it cannot change while a process lives.
const std::string& kernel_boot_id();

// The log_sync row; `fail` makes the error (UseStore::fail).
// Its query (kLogSyncQuery) kept in the connection's prepared statements.
extern const char* const kLogSyncQuery;
Result<LogSync> read_log_sync(sqlite3* db, const std::function<Decision(const std::string&)>& fail,
                              sqlite::StmtCache& stmts);

// log_sync.boot_id binds the store to a boot AND to one receipts.log:
// "<boot id>/<inode of receipts.log>/<log id>" (log id: receipts.head's
// log_id, lib/receipt_log_file.h). Unsynced commits are lost only with the
// kernel's page cache, i.e. across a boot; a store whose recorded log is
// another file or another log (a store copied from another state
// directory in this boot, or a state directory copied whole) counts
// another log's receipts. The inode alone did not tell logs apart: two
// file systems (two tmpfs mounts, say) can give their logs the same inode
// number, and so can a file system's device number repeat; the log id is
// random per log. Earlier gx wrote "<boot id>/<inode>" and, before that,
// "<boot id>": such a binding cannot name its log and is rebuilt once.
std::string binding_of(const std::string& boot, uint64_t log_inode, const std::string& log_id);

// How a store must be reconciled before it is trusted: Rebuild when its
// binding names another log (or none), FromSynced when only the boot
// differs (or is unknown), No when it is this boot's and this log's. A new
// store (binding '') is reconciled from its synced position, the log's
// start.
enum class Reconcile { No, FromSynced, Rebuild };
Reconcile reconcile_mode(const LogSync& s, const std::string& boot, uint64_t log_inode, const std::string& log_id);

// The inode of the open receipts.log `fd` (LogUnavailable naming `path`).
Result<uint64_t> inode_of(int fd, const std::string& path);

}  // namespace gx::use_store_db
