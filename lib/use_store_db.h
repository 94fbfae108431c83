// uses.db below the UseStore API (lib/use_store.h): its files, its schema
// (version 2) and the upgrade from version 1, transactions, and the small
// rules both the reservations (use_store.cc) and the reconciliation
// (use_store_reconcile.cc) apply. Internal to the use store.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>

#include "lib/decision.h"
#include "lib/fsutil.h"
#include "lib/sqlite_stmt.h"

namespace gx::use_store_db {

// Schema 2 (kSchema) and the upgrade from schema 1 (kMigrate1to2): see the .cc.
extern const char* const kSchema;
extern const char* const kMigrate1to2;

// A row created by reconciliation knows neither the artifact's max_uses nor
// its not_after (receipts do not carry them): these stand for "unknown"
// until the next reserve of that digest fills them in. Never pruned while
// unknown: forgetting counted uses of a live artifact would free them.
// The store's files in the state directory.
constexpr const char* kDbFile = "uses.db";
constexpr const char* kWalFile = "uses.db-wal";

constexpr int64_t kUnknownMaxUses = 4294967295;
constexpr int64_t kUnknownNotAfter = INT64_MAX;

// The log_sync row of a new (never reconciled) or an upgraded (legacy) store.
std::string log_sync_row(bool legacy);

// StateUnavailable naming the state path.
Decision state_error(const std::string& detail, const std::string& path);

// "sha256:<64 lowercase hex>".
bool valid_digest(const std::string& d);

// Replay: "all N uses of artifact <digest> are spent".
Decision replay_denial(const std::string& artifact_digest, uint32_t limit);

// A stored count or limit as a uint32 (kUnknownMaxUses at most).
uint32_t clamp_uses(int64_t v);

// Rolls back unless committed: every early return leaves the database as it was.
class Transaction {
 public:
  // With `stmts`: BEGIN, COMMIT and ROLLBACK from its prepared statements.
  static constexpr const char* kBegin = "BEGIN IMMEDIATE";
  static constexpr const char* kCommit = "COMMIT";
  explicit Transaction(sqlite3* db, sqlite::StmtCache* stmts = nullptr) : db_(db), stmts_(stmts) {}
  ~Transaction() {
    if (open_) run("ROLLBACK");
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  // BEGIN IMMEDIATE takes the write lock up front (waiting up to the busy
  // timeout), so two processes can never both read "1 use left".
  int begin() {
    int rc = run(kBegin);
    open_ = rc == SQLITE_OK;
    return rc;
  }
  int commit() {
    int rc = run(kCommit);
    if (rc == SQLITE_OK) open_ = false;
    return rc;
  }

 private:
  int run(const char* sql) {
    return stmts_ ? stmts_->exec(db_, sql) : sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  }
  sqlite3* db_;
  sqlite::StmtCache* stmts_;
  bool open_ = false;
};

// Pre-creates the database and its WAL 0600 and checks an existing
// database, under an flock(2) on uses.db (see the .cc for why gx, not
// SQLite, creates them). StateUnavailable when either is unusable.
Decision prepare_db_files(const fs::OpenDir& dir);

}  // namespace gx::use_store_db
