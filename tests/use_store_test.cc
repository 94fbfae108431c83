// The spent-use store: exact use counting under races, durability across
// kill -9, and fail-closed behaviour on every kind of broken state.
#include "lib/use_store.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>

#include "lib/crypto.h"
#include "tests/test_util.h"

using namespace gx;

namespace {

struct TempDir : gx::test::TempDir {
  TempDir() : gx::test::TempDir("use") {}
};

std::string digest(const std::string& tag) { return "sha256:" + crypto::sha256_hex(tag); }
constexpr UnixTime kFar = 4'000'000'000;

UseStore open_ok(const std::string& dir, int timeout_ms = kUseStoreBusyTimeoutMs) {
  auto s = UseStore::open(dir, timeout_ms);
  INFO(s.error().detail);
  REQUIRE(s.ok());
  return s.take();
}

// A second connection to the store's database, for what gx never does
// itself (hold a write lock, tamper with the schema version).
sqlite3* raw_open(const std::string& dir) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(UseStore::db_path(dir).c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  return db;
}

uint32_t spent(const std::string& dir, const std::string& d) {
  UseStore s = open_ok(dir);
  auto rec = s.lookup(d);
  REQUIRE(rec.ok());
  return *rec ? (*rec)->spent : 0;
}

// Forks `n` processes that all wait on one pipe, then race reserve(); returns
// how many were allowed. A child exits 0 (allowed), 1 (Replay), 2 (other).
int race(const std::string& dir, const std::string& d, uint32_t max_uses, int n, int& others) {
  int gate[2];
  REQUIRE(pipe(gate) == 0);
  std::vector<pid_t> kids;
  for (int i = 0; i < n; ++i) {
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      close(gate[1]);
      char c;
      (void)!read(gate[0], &c, 1);  // returns 0 when the parent closes the gate
      auto store = UseStore::open(dir);
      if (!store) _exit(2);
      auto r = store->reserve(d, max_uses, kFar);
      _exit(r.ok() ? 0 : r.error().reason == DenyReason::Replay ? 1 : 2);
    }
    kids.push_back(pid);
  }
  close(gate[0]);
  close(gate[1]);  // open the gate: everyone starts at once
  int allowed = 0;
  others = 0;
  for (pid_t pid : kids) {
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    if (WEXITSTATUS(status) == 0) ++allowed;
    if (WEXITSTATUS(status) == 2) ++others;
  }
  return allowed;
}

}  // namespace

TEST_CASE("reserve consumes uses one by one and then denies as replay") {
  TempDir t;
  UseStore s = open_ok(t.path);
  std::string d = digest("a");
  for (uint32_t i = 1; i <= 3; ++i) {
    auto r = s.reserve(d, 3, kFar);
    REQUIRE(r.ok());
    CHECK(r->use_number == i);
    CHECK(r->remaining() == 3 - i);
  }
  auto denied = s.reserve(d, 3, kFar);
  REQUIRE_FALSE(denied.ok());
  CHECK(denied.error().reason == DenyReason::Replay);
  CHECK(denied.error().detail == "all 3 uses of artifact " + d + " are spent");
  // The denial consumed nothing more.
  auto rec = s.lookup(d);
  REQUIRE(rec.ok());
  REQUIRE(rec->has_value());
  CHECK((*rec)->spent == 3);
  // Other artifacts are independent.
  CHECK(s.reserve(digest("b"), 1, kFar).ok());
  CHECK(s.reserve(digest("b"), 1, kFar).error().reason == DenyReason::Replay);
  // max_uses 0 never allows.
  CHECK(s.reserve(digest("c"), 0, kFar).error().reason == DenyReason::Replay);
  CHECK_FALSE(s.lookup(digest("c"))->has_value());
}

TEST_CASE("reserve rejects a malformed digest") {
  TempDir t;
  UseStore s = open_ok(t.path);
  for (const std::string& bad :
       std::vector<std::string>{"", "sha256:", "sha256:XYZ", crypto::sha256_hex("x"),
                                "sha512:" + crypto::sha256_hex("x"), "sha256:" + crypto::sha256_hex("x") + "0"}) {
    auto r = s.reserve(bad, 5, kFar);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == DenyReason::InvalidValue);
  }
  CHECK(s.stats()->entries == 0);
}

TEST_CASE("state directory is 0700 and the database 0600") {
  TempDir t;
  std::string dir = t.path + "/nested/state";
  {
    UseStore s = open_ok(dir);
    REQUIRE(s.reserve(digest("p"), 1, kFar).ok());
  }
  struct stat st {};
  REQUIRE(stat(dir.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  REQUIRE(stat(UseStore::db_path(dir).c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  // The WAL inherits the database's mode.
  if (stat((UseStore::db_path(dir) + "-wal").c_str(), &st) == 0) CHECK((st.st_mode & 0077) == 0);
}

TEST_CASE("racing processes: exactly max_uses succeed, every round") {
  TempDir t;
  { UseStore s = open_ok(t.path); }  // create the schema once; the race is about reserve()
  const int kProcs = 22;
  for (uint32_t max_uses : {1u, 3u}) {
    for (int round = 0; round < 30; ++round) {
      std::string d = digest("race-" + std::to_string(max_uses) + "-" + std::to_string(round));
      int others = 0;
      int allowed = race(t.path, d, max_uses, kProcs, others);
      INFO("max_uses " << max_uses << " round " << round);
      REQUIRE(others == 0);  // no child hit a lock timeout or an error
      REQUIRE(allowed == static_cast<int>(max_uses));
      REQUIRE(spent(t.path, d) == max_uses);
    }
  }
}

TEST_CASE("racing on a store that does not exist yet: still exact") {
  TempDir t;
  int others = 0;
  std::string dir = t.path + "/fresh";
  CHECK(race(dir, digest("fresh"), 2, 20, others) == 2);
  CHECK(others == 0);
  CHECK(spent(dir, digest("fresh")) == 2);
}

TEST_CASE("kill -9 right after reserve returns: the use stays spent") {
  TempDir t;
  std::string d = digest("killed");
  int ready[2];
  REQUIRE(pipe(ready) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(ready[0]);
    auto store = UseStore::open(t.path);
    if (!store || !store->reserve(d, 1, kFar)) _exit(2);
    (void)!write(ready[1], "x", 1);  // "about to exec the child"
    pause();
    _exit(3);
  }
  close(ready[1]);
  char c = 0;
  REQUIRE(read(ready[0], &c, 1) == 1);
  close(ready[0]);
  kill(pid, SIGKILL);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFSIGNALED(status));
  UseStore s = open_ok(t.path);
  auto again = s.reserve(d, 1, kFar);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().reason == DenyReason::Replay);
}

TEST_CASE("kill -9 inside an uncommitted reservation: nothing spent, store not wedged") {
  TempDir t;
  { UseStore s = open_ok(t.path); }
  std::string d = digest("mid");
  int ready[2];
  REQUIRE(pipe(ready) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(ready[0]);
    auto store = UseStore::open(t.path);
    if (!store) _exit(2);
    sqlite3* db = raw_open(t.path);
    sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    sqlite3_exec(db, ("INSERT INTO uses VALUES ('" + d + "', 1, 1, 0)").c_str(), nullptr, nullptr, nullptr);
    (void)!write(ready[1], "x", 1);
    pause();
    _exit(3);
  }
  close(ready[1]);
  char c = 0;
  REQUIRE(read(ready[0], &c, 1) == 1);
  close(ready[0]);
  kill(pid, SIGKILL);
  REQUIRE(waitpid(pid, nullptr, 0) == pid);
  UseStore s = open_ok(t.path, 2000);
  auto r = s.reserve(d, 1, kFar);
  INFO(r.error().detail);
  CHECK(r.ok());
}

TEST_CASE("a lock held past the busy timeout denies, never allows") {
  TempDir t;
  { UseStore s = open_ok(t.path); }
  int ready[2];
  REQUIRE(pipe(ready) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(ready[0]);
    auto store = UseStore::open(t.path);
    if (!store) _exit(2);
    sqlite3_exec(raw_open(t.path), "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    (void)!write(ready[1], "x", 1);
    pause();
    _exit(3);
  }
  close(ready[1]);
  char c = 0;
  REQUIRE(read(ready[0], &c, 1) == 1);
  close(ready[0]);
  {
    UseStore s = open_ok(t.path, 300);
    auto r = s.reserve(digest("blocked"), 5, kFar);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == DenyReason::StateUnavailable);
  }
  kill(pid, SIGKILL);
  REQUIRE(waitpid(pid, nullptr, 0) == pid);
  CHECK(spent(t.path, digest("blocked")) == 0);
}

TEST_CASE("corrupt, unwritable or unsafe state denies with state-unavailable") {
  TempDir t;
  auto expect_unavailable = [](const std::string& dir) {
    auto s = UseStore::open(dir, 200);
    if (s.ok()) {
      auto r = s->reserve(digest("z"), 5, kFar);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().reason == DenyReason::StateUnavailable);
    } else {
      CHECK(s.error().reason == DenyReason::StateUnavailable);
    }
  };
  SECTION("garbage in uses.db") {
    std::string dir = t.path + "/s";
    REQUIRE(UseStore::open(dir).ok());
    std::filesystem::remove(dir + "/uses.db-wal");
    std::filesystem::remove(dir + "/uses.db-shm");
    std::ofstream(UseStore::db_path(dir), std::ios::trunc) << std::string(8192, 'G');
    expect_unavailable(dir);
  }
  SECTION("uses.db is a directory") {
    std::string dir = t.path + "/s";
    std::filesystem::create_directories(dir + "/uses.db");
    chmod(dir.c_str(), 0700);
    expect_unavailable(dir);
  }
  SECTION("the WAL cannot be created") {
    std::string dir = t.path + "/s";
    std::filesystem::create_directories(dir + "/uses.db-wal");
    chmod(dir.c_str(), 0700);
    expect_unavailable(dir);
  }
  SECTION("read-only database (non-root only: root ignores modes)") {
    if (geteuid() == 0) return;
    std::string dir = t.path + "/s";
    REQUIRE(UseStore::open(dir).ok());
    chmod(UseStore::db_path(dir).c_str(), 0400);
    expect_unavailable(dir);
  }
  SECTION("state path is a regular file") {
    std::ofstream(t.path + "/file") << "x";
    expect_unavailable(t.path + "/file");
  }
  SECTION("state directory writable by others") {
    std::string dir = t.path + "/s";
    std::filesystem::create_directories(dir);
    chmod(dir.c_str(), 0777);
    expect_unavailable(dir);
  }
  SECTION("state directory owned by another user") {
    if (geteuid() != 0) return;
    std::string dir = t.path + "/s";
    std::filesystem::create_directories(dir);
    chmod(dir.c_str(), 0700);
    REQUIRE(chown(dir.c_str(), 4242, 4242) == 0);
    expect_unavailable(dir);
  }
  SECTION("unknown schema version") {
    std::string dir = t.path + "/s";
    {
      UseStore s = open_ok(dir);
      sqlite3* db = raw_open(dir);
      sqlite3_exec(db, "PRAGMA user_version = 9", nullptr, nullptr, nullptr);
      sqlite3_close(db);
    }
    expect_unavailable(dir);
  }
}

TEST_CASE("prune forgets only artifacts expired beyond the margin") {
  TempDir t;
  UseStore s = open_ok(t.path);
  const UnixTime now = static_cast<UnixTime>(time(nullptr));
  REQUIRE(s.reserve(digest("old"), 1, now - kUseStorePruneMarginSeconds - 1).ok());
  REQUIRE(s.reserve(digest("recent"), 1, now - 10).ok());  // expired, but within the margin
  REQUIRE(s.reserve(digest("live"), 1, now + 3600).ok());
  auto stats = s.stats();
  REQUIRE(stats.ok());
  CHECK(stats->entries == 3);
  CHECK(stats->exhausted == 3);
  auto pruned = s.prune(now);
  REQUIRE(pruned.ok());
  CHECK(*pruned == 1);
  CHECK_FALSE(s.lookup(digest("old"))->has_value());
  CHECK(s.lookup(digest("recent"))->has_value());
  CHECK(s.lookup(digest("live"))->has_value());
  CHECK(*s.prune(now) == 0);
}

TEST_CASE("prune never takes a time after the clock: a live artifact keeps its spent uses") {
  TempDir t;
  UseStore s = open_ok(t.path);
  const UnixTime now = static_cast<UnixTime>(time(nullptr));
  REQUIRE(s.reserve(digest("live"), 1, now + 3600).ok());
  auto pruned = s.prune(4'102'444'800);  // 2100-01-01
  REQUIRE(pruned.ok());
  CHECK(*pruned == 0);
  CHECK(s.lookup(digest("live"))->has_value());
  CHECK(s.reserve(digest("live"), 1, now + 3600).error().reason == DenyReason::Replay);
}

TEST_CASE("bound_wal cuts a long WAL to nothing and keeps every count") {
  TempDir t;
  const std::string wal = t.path + "/uses.db-wal";
  {
    // One process after another, as gx runs are: each is the first connection
    // and its recovery leaves the WAL growing (use_store.h, bound_wal).
    for (int i = 0; i < 120; ++i) {
      UseStore s = open_ok(t.path);
      REQUIRE(s.reserve(digest("a" + std::to_string(i)), 3, kFar).ok());
    }
  }
  const auto grown = std::filesystem::file_size(wal);
  INFO("WAL after 120 reservations: " << grown);
  REQUIRE(grown > static_cast<uintmax_t>(kUseStoreWalLimitBytes));
  {
    UseStore s = open_ok(t.path);
    REQUIRE(s.reserve(digest("a0"), 3, kFar).ok());
    REQUIRE(s.bound_wal().allowed());
    CHECK(std::filesystem::file_size(wal) == 0);
  }
  // With bound_wal after every reservation (what gx run does), the WAL never
  // gets much past the limit.
  uintmax_t largest = 0;
  for (int i = 0; i < 120; ++i) {
    UseStore s = open_ok(t.path);
    REQUIRE(s.reserve(digest("c" + std::to_string(i)), 3, kFar).ok());
    REQUIRE(s.bound_wal().allowed());
    largest = std::max(largest, std::filesystem::file_size(wal));
  }
  CHECK(largest <= static_cast<uintmax_t>(kUseStoreWalLimitBytes) + 16 * 1024);
  UseStore s = open_ok(t.path);
  auto a0 = s.lookup(digest("a0"));
  REQUIRE(a0.ok());
  REQUIRE(a0->has_value());
  CHECK((*a0)->spent == 2);
  for (int i = 1; i < 120; ++i) {
    auto r = s.lookup(digest("a" + std::to_string(i)));
    REQUIRE(r.ok());
    REQUIRE(r->has_value());
    CHECK((*r)->spent == 1);
  }
}

TEST_CASE("bound_wal never waits for another connection's lock") {
  TempDir t;
  {
    for (int i = 0; i < 120; ++i) {
      UseStore s = open_ok(t.path);
      REQUIRE(s.reserve(digest("b" + std::to_string(i)), 3, kFar).ok());
    }
  }
  UseStore s = open_ok(t.path);
  // Another connection inside a write transaction: the checkpoint is skipped
  // at once (no busy wait), and allowed; the WAL is left for a later run.
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open(UseStore::db_path(t.path).c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  const auto before = std::filesystem::file_size(t.path + "/uses.db-wal");
  const auto started = std::chrono::steady_clock::now();
  CHECK(s.bound_wal().allowed());
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(kUseStoreBusyTimeoutMs / 2));
  CHECK(std::filesystem::file_size(t.path + "/uses.db-wal") == before);
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  REQUIRE(s.bound_wal().allowed());
  CHECK(std::filesystem::file_size(t.path + "/uses.db-wal") == 0);
}

TEST_CASE("a repeat reservation writes one WAL page; not_after changes only when it must") {
  TempDir t;
  const std::string wal = t.path + "/uses.db-wal";
  UseStore s = open_ok(t.path);
  REQUIRE(s.reserve(digest("r"), 10, kFar).ok());
  const auto before = std::filesystem::file_size(wal);
  REQUIRE(s.reserve(digest("r"), 10, kFar).ok());
  // One frame: its 24-byte header and the uses table's page (4096 bytes).
  // Naming not_after in the UPDATE would rewrite its index too (a second
  // frame, read back by every later process's WAL recovery).
  CHECK(std::filesystem::file_size(wal) - before == 24 + 4096);
  CHECK((*s.lookup(digest("r")))->not_after == kFar);
  CHECK((*s.lookup(digest("r")))->spent == 2);

  // A later not_after still moves the stored one forward; an earlier one does not.
  REQUIRE(s.reserve(digest("r"), 10, kFar + 100).ok());
  CHECK((*s.lookup(digest("r")))->not_after == kFar + 100);
  REQUIRE(s.reserve(digest("r"), 10, kFar).ok());
  CHECK((*s.lookup(digest("r")))->not_after == kFar + 100);

  // A row a reconciliation made without a not_after gets the first one given.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((t.path + "/uses.db").c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db,
                       ("UPDATE uses SET not_after = 9223372036854775807 WHERE digest = '" + digest("r") + "'").c_str(),
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  REQUIRE(s.reserve(digest("r"), 10, kFar - 5).ok());
  CHECK((*s.lookup(digest("r")))->not_after == kFar - 5);
  CHECK((*s.lookup(digest("r")))->spent == 5);
}

TEST_CASE("prepare_reservation only compiles: it waits for no lock, writes nothing, and reservations count as before") {
  TempDir t;
  const std::string wal = t.path + "/uses.db-wal";
  {
    UseStore first = open_ok(t.path);
    REQUIRE(first.reserve(digest("a"), 5, kFar).ok());
  }
  UseStore s = open_ok(t.path, 200);
  const auto wal_before = std::filesystem::file_size(wal);
  // Another connection holds the write lock: compiling needs none.
  sqlite3* other = raw_open(t.path);
  REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  const auto start = std::chrono::steady_clock::now();
  s.prepare_reservation();
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(150));
  REQUIRE(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr) == SQLITE_OK);
  CHECK(std::filesystem::file_size(wal) == wal_before);
  CHECK(spent(t.path, digest("a")) == 1);

  // The kept statements after another connection changed the schema:
  // SQLite compiles them again, and every kind of reservation still counts.
  REQUIRE(sqlite3_exec(other, "CREATE INDEX extra ON uses(spent)", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(other);
  REQUIRE(s.reserve(digest("a"), 5, kFar).ok());       // an existing row
  REQUIRE(s.reserve(digest("b"), 1, kFar).ok());       // a new row
  REQUIRE(s.reserve(digest("a"), 5, kFar + 10).ok());  // a later not_after
  CHECK((*s.lookup(digest("a")))->spent == 3);
  CHECK((*s.lookup(digest("a")))->not_after == kFar + 10);
  auto replay = s.reserve(digest("b"), 1, kFar);
  REQUIRE_FALSE(replay.ok());
  CHECK(replay.error().reason == DenyReason::Replay);
}
