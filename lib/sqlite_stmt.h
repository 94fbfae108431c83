// Small RAII helpers for Debian's SQLite, shared by the stores that use it
// (use_store, revocation_index).
#pragma once

#include <sqlite3.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gx::sqlite {

// Process-wide settings, before the first connection (sqlite3_config is
// refused once SQLite is initialized; then this is a no-op). gx's stores
// are small and each process opens one or two connections: SQLite's
// defaults pre-touch ~120 KiB of lookaside slots and a 20-page cache bulk
// per connection, ~50 page faults that a run never needs (issue #14,
// docs/performance.md). Call before every sqlite3_open_v2.
inline void configure_once() {
  static const bool done = [] {
    sqlite3_config(SQLITE_CONFIG_LOOKASIDE, 0, 0);
    sqlite3_config(SQLITE_CONFIG_PAGECACHE, static_cast<void*>(nullptr), 0, 0);
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)done;
}

// A prepared statement that finalizes itself.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK && stmt_ != nullptr; }
  sqlite3_stmt* get() { return stmt_; }
  int step() { return sqlite3_step(stmt_); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_ERROR;
};

// Statements kept prepared for a connection's life: a connection that runs
// the same few statements again and again (a broker worker's use store, for
// every request) prepares each once -- sqlite3_prepare and sqlite3_exec
// compile the SQL on every call (~15 us a statement, docs/performance.md).
// (SQLite still recompiles a kept PRAGMA each time it runs: it marks them
// run-once.) Looked up by the SQL's text. clear() (or the destructor) must run before
// the connection is closed. Not thread-safe, like the connection.
class StmtCache {
 public:
  StmtCache() = default;
  ~StmtCache() { clear(); }
  StmtCache(StmtCache&& o) noexcept : stmts_(std::move(o.stmts_)) { o.stmts_.clear(); }
  StmtCache& operator=(StmtCache&& o) noexcept {
    if (this != &o) {
      clear();
      stmts_ = std::move(o.stmts_);
      o.stmts_.clear();
    }
    return *this;
  }
  StmtCache(const StmtCache&) = delete;
  StmtCache& operator=(const StmtCache&) = delete;

  // A statement in use: reset and unbound when it goes, so that no read is
  // left open (a COMMIT would fail) and no binding outlives its value.
  class Use {
   public:
    explicit Use(sqlite3_stmt* s) : s_(s) {}
    ~Use() {
      if (s_) {
        sqlite3_reset(s_);
        sqlite3_clear_bindings(s_);
      }
    }
    Use(Use&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;
    Use& operator=(Use&&) = delete;
    bool ok() const { return s_ != nullptr; }
    sqlite3_stmt* get() { return s_; }
    int step() { return s_ ? sqlite3_step(s_) : SQLITE_MISUSE; }

   private:
    sqlite3_stmt* s_;
  };

  Use use(sqlite3* db, const char* sql) {
    for (auto& [text, stmt] : stmts_)
      if (text == sql) return Use(stmt);
    // Room first: a throw after the prepare would leak a statement, and a
    // connection with one left never closes.
    stmts_.reserve(stmts_.size() + 1);
    std::string text(sql);
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK || stmt == nullptr) {
      sqlite3_finalize(stmt);
      return Use(nullptr);
    }
    stmts_.emplace_back(std::move(text), stmt);  // noexcept: room reserved, a string moved
    return Use(stmt);
  }
  // One statement without results (BEGIN, COMMIT, a PRAGMA that sets),
  // stepped to its end: what sqlite3_exec returns for it.
  int exec(sqlite3* db, const char* sql) {
    Use u = use(db, sql);
    if (!u.ok()) return sqlite3_errcode(db) == SQLITE_OK ? SQLITE_ERROR : sqlite3_errcode(db);
    int rc;
    while ((rc = u.step()) == SQLITE_ROW) {
    }
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
  }
  void clear() {
    for (auto& entry : stmts_) sqlite3_finalize(entry.second);
    stmts_.clear();
  }

 private:
  std::vector<std::pair<std::string, sqlite3_stmt*>> stmts_;
};

// Binds a view that outlives the statement's use (SQLITE_STATIC: no copy).
inline int bind_text(sqlite3_stmt* s, int i, std::string_view t) {
  return sqlite3_bind_text(s, i, t.data(), static_cast<int>(t.size()), SQLITE_STATIC);
}

inline std::string column_text(sqlite3_stmt* s, int i) {
  const unsigned char* p = sqlite3_column_text(s, i);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(s, i)))
           : std::string();
}

}  // namespace gx::sqlite
