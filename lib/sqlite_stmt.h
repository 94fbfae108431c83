// Small RAII helpers for Debian's SQLite, shared by the stores that use it
// (use_store, revocation_index).
#pragma once

#include <sqlite3.h>

#include <string>
#include <string_view>

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
