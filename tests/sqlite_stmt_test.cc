// lib/sqlite_stmt.h: the statement cache a use store keeps for its connection.
#include "lib/sqlite_stmt.h"

#include <catch2/catch.hpp>
#include <string>

using gx::sqlite::StmtCache;

namespace {

struct Db {
  sqlite3* db = nullptr;
  Db() { REQUIRE(sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) == SQLITE_OK); }
  ~Db() { CHECK(sqlite3_close(db) == SQLITE_OK); }  // SQLITE_BUSY if a statement were left unfinalized
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
};

int64_t count(sqlite3* db, StmtCache& stmts) {
  auto q = stmts.use(db, "SELECT count(*) FROM t");
  REQUIRE(q.ok());
  REQUIRE(q.step() == SQLITE_ROW);
  return sqlite3_column_int64(q.get(), 0);
}

}  // namespace

TEST_CASE("StmtCache: a statement is prepared once, reset and unbound after each use") {
  Db d;
  StmtCache stmts;
  REQUIRE(stmts.exec(d.db, "CREATE TABLE t (v INTEGER)") == SQLITE_OK);
  for (int i = 1; i <= 3; ++i) {
    auto ins = stmts.use(d.db, "INSERT INTO t (v) VALUES (?1)");
    REQUIRE(ins.ok());
    sqlite3_bind_int(ins.get(), 1, i);
    CHECK(ins.step() == SQLITE_DONE);
  }
  // Unbound after its use: a NULL, not the last value bound.
  {
    auto ins = stmts.use(d.db, "INSERT INTO t (v) VALUES (?1)");
    CHECK(ins.step() == SQLITE_DONE);
  }
  CHECK(count(d.db, stmts) == 4);
  CHECK(count(d.db, stmts) == 4);  // reset: the same query runs again from its start
  {
    auto nulls = stmts.use(d.db, "SELECT count(*) FROM t WHERE v IS NULL");
    REQUIRE(nulls.step() == SQLITE_ROW);
    CHECK(sqlite3_column_int64(nulls.get(), 0) == 1);
  }
  // One compiled statement per text, whatever the address of the text.
  std::string text = "SELECT count(*) FROM t";
  sqlite3_stmt* first = stmts.use(d.db, text.c_str()).get();
  sqlite3_stmt* again = stmts.use(d.db, "SELECT count(*) FROM t").get();
  CHECK(first == again);
}

TEST_CASE("StmtCache: transactions through kept statements commit, roll back and report busy") {
  Db d;
  StmtCache stmts;
  REQUIRE(stmts.exec(d.db, "CREATE TABLE t (v INTEGER)") == SQLITE_OK);
  REQUIRE(stmts.exec(d.db, "BEGIN IMMEDIATE") == SQLITE_OK);
  REQUIRE(stmts.exec(d.db, "INSERT INTO t VALUES (1)") == SQLITE_OK);
  CHECK(count(d.db, stmts) == 1);  // a read left reset: COMMIT is not refused
  REQUIRE(stmts.exec(d.db, "COMMIT") == SQLITE_OK);
  REQUIRE(stmts.exec(d.db, "BEGIN IMMEDIATE") == SQLITE_OK);
  REQUIRE(stmts.exec(d.db, "INSERT INTO t VALUES (2)") == SQLITE_OK);
  REQUIRE(stmts.exec(d.db, "ROLLBACK") == SQLITE_OK);
  CHECK(count(d.db, stmts) == 1);
  // Errors come back as sqlite3_exec would return them.
  CHECK(stmts.exec(d.db, "COMMIT") != SQLITE_OK);  // no transaction
  CHECK_FALSE(stmts.use(d.db, "SELECT nonsense FROM nowhere").ok());
  CHECK(stmts.exec(d.db, "SELECT nonsense FROM nowhere") != SQLITE_OK);
  CHECK(stmts.exec(d.db, "INSERT INTO t VALUES (3)") == SQLITE_OK);  // still usable
  CHECK(count(d.db, stmts) == 2);
}

TEST_CASE("StmtCache: moved or cleared, no statement is left to keep the connection open") {
  Db d;
  StmtCache a;
  REQUIRE(a.exec(d.db, "CREATE TABLE t (v INTEGER)") == SQLITE_OK);
  CHECK(count(d.db, a) == 0);
  StmtCache b(std::move(a));
  CHECK(count(d.db, b) == 0);
  StmtCache c;
  CHECK(count(d.db, c) == 0);
  c = std::move(b);  // c's own statement finalized, b's taken over
  CHECK(count(d.db, c) == 0);
  c.clear();
  CHECK(sqlite3_next_stmt(d.db, nullptr) == nullptr);
}
