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
Result<LogSync> read_log_sync(sqlite3* db, const std::function<Decision(const std::string&)>& fail);

// Must the store be reconciled from the log before it is trusted? Unsynced
// commits are lost only with the kernel's page cache, i.e. across a boot.
inline bool needs_reconcile(const LogSync& s, const std::string& boot) { return boot.empty() || s.boot_id != boot; }

}  // namespace gx::use_store_db
