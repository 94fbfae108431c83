// Recording a run before exec (lib/run_record.h): the order of the steps,
// that the use and the authorized receipt are both in place before success,
// that a failure at any step never reports success, and that the receipt
// head never runs ahead of a synced receipt.
#include "lib/run_record.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lib/crypto.h"
#include "lib/receipt_log.h"
#include "lib/use_store.h"
#include "tests/test_util.h"

using namespace gx;

namespace {

constexpr UnixTime kFar = 4'000'000'000;

Receipt authorized_subject(const std::string& tag) {
  Receipt r = receipt_for_this_process();
  r.artifact_digest = "sha256:" + crypto::sha256_hex(tag);
  r.argv = {"/bin/true"};
  return make_authorized(r);
}

size_t log_lines(const std::string& dir) {
  std::ifstream in(dir + "/receipts.log");
  size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

uint64_t head_count(const std::string& dir) {
  std::ifstream in(dir + "/receipts.head");
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = nlohmann::json::parse(ss.str());
  return j["count"].get<uint64_t>();
}

uint32_t spent(const std::string& dir, const std::string& digest) {
  auto s = UseStore::open(dir);
  REQUIRE(s.ok());
  auto rec = s->lookup(digest);
  REQUIRE(rec.ok());
  return *rec ? (*rec)->spent : 0;
}

struct Fixture {
  gx::test::TempDir tmp{"record"};
  std::string dir = tmp.path + "/state";
  UseStore store;
  ReceiptLog log;
  Fixture() : store(open_store(dir)), log(open_log(dir)) {}
  static UseStore open_store(const std::string& d) {
    auto s = UseStore::open(d);
    INFO(s.error().explain());
    REQUIRE(s.ok());
    return s.take();
  }
  static ReceiptLog open_log(const std::string& d) {
    auto l = ReceiptLog::open(d);
    INFO(l.error().explain());
    REQUIRE(l.ok());
    return l.take();
  }
};

}  // namespace

TEST_CASE("record_authorized_run: reserve, append, then sync the receipt (one sync)") {
  Fixture f;
  Receipt a = authorized_subject("order");
  std::vector<RecordStep> steps;
  std::vector<uint64_t> heads;
  auto rec = record_authorized_run(f.store, f.log, a, 3, kFar, nullptr, [&](RecordStep s) {
    steps.push_back(s);
    heads.push_back(head_count(f.dir));
    return Decision::allow();
  });
  INFO(rec.error().explain());
  REQUIRE(rec.ok());
  CHECK(steps == std::vector<RecordStep>{RecordStep::Reserved, RecordStep::Appended, RecordStep::ReceiptSynced});
  // The head only moves once the receipt is synced: after the last step,
  // as bookkeeping (lib/run_record.h, step 5).
  CHECK(heads == std::vector<uint64_t>{0, 0, 0});
  CHECK(head_count(f.dir) == 1);
  CHECK(rec->use.use_number == 1);
  CHECK(rec->receipt.line == 1);
  CHECK(spent(f.dir, a.artifact_digest) == 1);
  CHECK(log_lines(f.dir) == 1);
  auto report = f.log.verify();
  REQUIRE(report.ok());
  CHECK(report->intact);
}

TEST_CASE("record_authorized_run: a failure at any step is never a success, and the use stays spent") {
  const RecordStep fail_at = GENERATE(RecordStep::Reserved, RecordStep::Appended, RecordStep::ReceiptSynced);
  Fixture f;
  Receipt a = authorized_subject("fail");
  AppendedReceipt written;
  auto rec = record_authorized_run(f.store, f.log, a, 5, kFar, &written, [&](RecordStep s) {
    return s == fail_at ? Decision::deny(DenyReason::IoError, "injected", "step", "x") : Decision::allow();
  });
  REQUIRE_FALSE(rec.ok());
  CHECK(rec.error().detail == "injected");
  CHECK(spent(f.dir, a.artifact_digest) == 1);  // fail closed: a lost use, never a free one
  CHECK(log_lines(f.dir) == (fail_at == RecordStep::Reserved ? 0u : 1u));
  CHECK(written.id.empty() == (fail_at == RecordStep::Reserved));
}

TEST_CASE("record_authorized_run: the last use cannot be recorded twice, and a replay writes no receipt") {
  Fixture f;
  Receipt a = authorized_subject("once");
  REQUIRE(record_authorized_run(f.store, f.log, a, 1, kFar).ok());
  auto again = record_authorized_run(f.store, f.log, a, 1, kFar);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().reason == DenyReason::Replay);
  CHECK(log_lines(f.dir) == 1);
}

TEST_CASE("record_authorized_run: a process killed between any two steps never frees its use") {
  // Same boot: the page cache keeps the unsynced commit (die at Reserved:
  // committed, no receipt; at Appended: receipt written, not synced).
  const int die_at = GENERATE(0, 1, 2);
  Fixture f;
  Receipt a = authorized_subject("kill");
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    auto s = UseStore::open(f.dir);
    auto l = ReceiptLog::open(f.dir);
    if (!s || !l) _exit(3);
    (void)record_authorized_run(*s, *l, a, 1, kFar, nullptr, [&](RecordStep st) {
      if (static_cast<int>(st) == die_at) _exit(0);  // no destructor, no rollback
      return Decision::allow();
    });
    _exit(4);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  auto again = record_authorized_run(f.store, f.log, a, 1, kFar);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().reason == DenyReason::Replay);
  // The log stays appendable after the kill.
  CHECK(f.log.preflight().allowed());
}

TEST_CASE("ReceiptSync::Lazy: the head stays behind, the log stays appendable and verifiable") {
  Fixture f;
  REQUIRE(f.log.append(authorized_subject("a")).ok());
  CHECK(head_count(f.dir) == 1);
  REQUIRE(f.log.append(authorized_subject("b"), ReceiptSync::Lazy).ok());
  CHECK(log_lines(f.dir) == 2);
  CHECK(head_count(f.dir) == 1);  // never ahead of what was synced
  CHECK(f.log.preflight().allowed());
  REQUIRE(f.log.append(authorized_subject("c")).ok());
  CHECK(head_count(f.dir) == 3);
  auto report = f.log.verify();
  REQUIRE(report.ok());
  CHECK(report->intact);
  CHECK(report->records == 3);
}

TEST_CASE("UseStore creates its WAL itself, 0600") {
  gx::test::TempDir tmp{"record"};
  auto s = UseStore::open(tmp.path);
  REQUIRE(s.ok());
  struct stat st {};
  REQUIRE(lstat((tmp.path + "/uses.db-wal").c_str(), &st) == 0);
  CHECK((st.st_mode & 077) == 0);
}

// ---- power loss: the store is a cache of the log, reconciled from it ----

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  REQUIRE(out.good());
}

// The store's files as a power loss could leave them: uses.db and its WAL
// from an earlier moment (SQLite rebuilds the -shm index from the WAL).
struct StoreBytes {
  std::string db, wal;
  static StoreBytes take(const std::string& dir) { return {slurp(dir + "/uses.db"), slurp(dir + "/uses.db-wal")}; }
  void restore(const std::string& dir) const {
    spit(dir + "/uses.db", db);
    spit(dir + "/uses.db-wal", wal);
    std::remove((dir + "/uses.db-shm").c_str());
  }
};

UseStore store_in_boot(const std::string& dir, const std::string& boot) {
  auto s = UseStore::open(dir);
  INFO(s.error().explain());
  REQUIRE(s.ok());
  s->override_boot_id_for_testing(boot);
  return s.take();
}

Result<RecordedRun> run_once(const std::string& dir, const std::string& boot, const Receipt& a, uint32_t max_uses) {
  UseStore s = store_in_boot(dir, boot);
  ReceiptLog l = Fixture::open_log(dir);
  return record_authorized_run(s, l, a, max_uses, kFar);
}

}  // namespace

TEST_CASE("power loss: uses lost from the store are recounted from the log's authorized receipts") {
  gx::test::TempDir tmp{"record"};
  const std::string dir = tmp.path + "/state";
  Receipt once = authorized_subject("power-once");
  Receipt many = authorized_subject("power-many");
  REQUIRE(run_once(dir, "boot-1", many, 5).ok());  // the store is reconciled under boot-1
  const StoreBytes before = StoreBytes::take(dir);
  REQUIRE(run_once(dir, "boot-1", once, 1).ok());  // the runs whose commits the power loss takes
  REQUIRE(run_once(dir, "boot-1", many, 5).ok());
  before.restore(dir);

  SECTION("same boot (no loss possible): the store is trusted as it is") {
    // Shows what the restore did: the store alone has forgotten both uses.
    CHECK(spent(dir, once.artifact_digest) == 0);
    CHECK(spent(dir, many.artifact_digest) == 1);
  }
  SECTION("a dry run after the reboot already sees the spent use, without writing") {
    UseStore s = store_in_boot(dir, "boot-2");
    CHECK(s.check_left(once.artifact_digest, 1).reason == DenyReason::Replay);
    CHECK(s.check_left(many.artifact_digest, 2).reason == DenyReason::Replay);
    CHECK(s.check_left(many.artifact_digest, 3).allowed());
    CHECK(spent(dir, once.artifact_digest) == 0);
  }
  SECTION("after the reboot: max_uses 1 is denied as a replay, the counts are the log's") {
    auto again = run_once(dir, "boot-2", once, 1);
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().reason == DenyReason::Replay);
    CHECK(spent(dir, once.artifact_digest) == 1);
    CHECK(spent(dir, many.artifact_digest) == 2);
    auto third = run_once(dir, "boot-2", many, 5);
    REQUIRE(third.ok());
    CHECK(third->use.use_number == 3);
    // Reconciled once: a later reservation in the same boot does not count again.
    REQUIRE(run_once(dir, "boot-2", many, 5).ok());
    CHECK(spent(dir, many.artifact_digest) == 4);
    auto report = Fixture::open_log(dir).verify();
    REQUIRE(report.ok());
    CHECK(report->intact);
  }
}

TEST_CASE("power loss that took several reconciliations back: still exact") {
  gx::test::TempDir tmp{"record"};
  const std::string dir = tmp.path + "/state";
  Receipt a = authorized_subject("power-multi");
  const StoreBytes empty = [&] {
    (void)store_in_boot(dir, "boot-0");
    return StoreBytes::take(dir);
  }();
  REQUIRE(run_once(dir, "boot-1", a, 4).ok());
  REQUIRE(run_once(dir, "boot-2", a, 4).ok());
  REQUIRE(run_once(dir, "boot-2", a, 4).ok());
  empty.restore(dir);  // back to a store that never saw a reservation
  auto r = run_once(dir, "boot-3", a, 4);
  REQUIRE(r.ok());
  CHECK(r->use.use_number == 4);
  CHECK(run_once(dir, "boot-3", a, 4).error().reason == DenyReason::Replay);
}

TEST_CASE("a new store beside an existing log counts the log's runs (deleting uses.db frees nothing)") {
  gx::test::TempDir tmp{"record"};
  const std::string dir = tmp.path + "/state";
  Receipt a = authorized_subject("deleted-store");
  REQUIRE(run_once(dir, "boot-1", a, 2).ok());
  REQUIRE(run_once(dir, "boot-1", a, 2).ok());
  for (const char* f : {"/uses.db", "/uses.db-wal", "/uses.db-shm"}) std::remove((dir + f).c_str());
  CHECK(UseStore::check_left_without_store(dir, a.artifact_digest, 2).reason == DenyReason::Replay);
  CHECK(UseStore::check_left_without_store(dir, a.artifact_digest, 3).allowed());
  auto again = run_once(dir, "boot-1", a, 2);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().reason == DenyReason::Replay);
}

namespace {

// Rewrites receipts.head to match a log cut to its first `lines` lines (what
// someone hiding the truncation would do).
void truncate_log_consistently(const std::string& dir, size_t lines) {
  std::string log = slurp(dir + "/receipts.log");
  size_t end = 0;
  std::string last;
  for (size_t i = 0; i < lines; ++i) {
    size_t nl = log.find('\n', end);
    REQUIRE(nl != std::string::npos);
    last = log.substr(end, nl - end);
    end = nl + 1;
  }
  spit(dir + "/receipts.log", log.substr(0, end));
  // The log keeps its id (a new one would name another log: a rebuild).
  const std::string log_id = nlohmann::json::parse(slurp(dir + "/receipts.head"))["log_id"].get<std::string>();
  std::string head = canonical_dump(nlohmann::json{
      {"version", 2}, {"count", lines}, {"hash", receipt_leaf_hash(last)}, {"offset", end}, {"log_id", log_id}});
  head.resize(255, ' ');
  spit(dir + "/receipts.head", head + "\n");
}

Receipt denied_subject() {
  Receipt r = receipt_for_this_process();
  return make_denied(r, Decision::deny(DenyReason::Expired, "test", "not_after", "x"));
}

}  // namespace

TEST_CASE("reconciliation refuses a log truncated below the synced position, naming the file and byte") {
  gx::test::TempDir tmp{"record"};
  const std::string dir = tmp.path + "/state";
  {
    ReceiptLog l = Fixture::open_log(dir);
    for (int i = 0; i < 3; ++i) REQUIRE(l.append(denied_subject()).ok());
  }
  Receipt a = authorized_subject("truncated");
  REQUIRE(run_once(dir, "boot-1", a, 5).ok());  // synced position: after the 3 denials
  truncate_log_consistently(dir, 1);
  auto r = run_once(dir, "boot-2", a, 5);
  REQUIRE_FALSE(r.ok());
  INFO(r.error().explain());
  CHECK(r.error().reason == DenyReason::LogTampered);
  CHECK(r.error().detail.find("receipts.log ends at byte") != std::string::npos);
  CHECK(r.error().detail.find("truncated") != std::string::npos);
  CHECK(log_lines(dir) == 1);  // nothing appended
  UseStore s = store_in_boot(dir, "boot-2");
  CHECK(s.check_left(a.artifact_digest, 5).reason == DenyReason::LogTampered);
}

TEST_CASE("reconciliation refuses a malformed record in the range it reads (never skips it)") {
  gx::test::TempDir tmp{"record"};
  const std::string dir = tmp.path + "/state";
  Receipt a = authorized_subject("malformed");
  REQUIRE(run_once(dir, "boot-1", a, 5).ok());  // synced position: the log's start
  REQUIRE(run_once(dir, "boot-1", a, 5).ok());
  REQUIRE(run_once(dir, "boot-1", a, 5).ok());
  // Line 2 of 3 given another seq, in place (the tail and head still agree).
  std::string log = slurp(dir + "/receipts.log");
  size_t second = log.find('\n') + 1;
  size_t at = log.find("\"seq\":2,", second);
  REQUIRE(at != std::string::npos);
  log[at + 6] = '7';
  spit(dir + "/receipts.log", log);
  auto r = run_once(dir, "boot-2", a, 5);
  REQUIRE_FALSE(r.ok());
  INFO(r.error().explain());
  CHECK(r.error().reason == DenyReason::LogTampered);
  CHECK(r.error().detail.find("receipts.log at byte " + std::to_string(second) + " (seq 2)") != std::string::npos);
  CHECK(r.error().detail.find("sequence number 7") != std::string::npos);
  CHECK(log_lines(dir) == 3);
}

TEST_CASE("a store of schema 1 is adopted as complete: its counts are kept, never counted twice") {
  gx::test::TempDir tmp{"record"};
  const std::string dir = tmp.path + "/state";
  Receipt a = authorized_subject("legacy");
  REQUIRE(run_once(dir, "boot-1", a, 3).ok());
  {
    // Turn the store into what gx with schema 1 left: no last_seq, no log_sync.
    UseStore s = store_in_boot(dir, "boot-1");
  }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((dir + "/uses.db").c_str(), &db) == SQLITE_OK);
  const char* down =
      "DROP TABLE log_sync; CREATE TABLE u1 (digest TEXT PRIMARY KEY NOT NULL, spent INTEGER NOT NULL, max_uses "
      "INTEGER "
      "NOT NULL, not_after INTEGER NOT NULL) WITHOUT ROWID; INSERT INTO u1 SELECT digest, spent, max_uses, not_after "
      "FROM uses; DROP TABLE uses; ALTER TABLE u1 RENAME TO uses; CREATE INDEX uses_not_after ON uses(not_after); "
      "PRAGMA user_version = 1;";
  CHECK(sqlite3_exec(db, down, nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  auto second = run_once(dir, "boot-2", a, 3);
  REQUIRE(second.ok());
  CHECK(second->use.use_number == 2);
  auto third = run_once(dir, "boot-3", a, 3);  // a later reboot reconciles from the adoption point only
  REQUIRE(third.ok());
  CHECK(third->use.use_number == 3);
  CHECK(run_once(dir, "boot-3", a, 3).error().reason == DenyReason::Replay);
}

TEST_CASE("a store from another state directory (same boot) is rebuilt from this log, never trusted") {
  gx::test::TempDir tmp{"record"};
  const std::string a = tmp.path + "/a", b = tmp.path + "/b";
  Receipt shared = authorized_subject("copied-shared");  // run in both directories
  Receipt only_a = authorized_subject("copied-only-a");
  Receipt filler = authorized_subject("copied-filler");
  // In A: `shared` twice at seqs 1 and 2, `only_a` once at seq 3.
  REQUIRE(run_once(a, "boot-1", shared, 3).ok());
  REQUIRE(run_once(a, "boot-1", shared, 3).ok());
  REQUIRE(run_once(a, "boot-1", only_a, 1).ok());
  // In B: `shared` once, at a seq beyond all of A's (its row's last_seq would hide A's receipts).
  for (int i = 0; i < 6; ++i) REQUIRE(run_once(b, "boot-1", filler, 100).ok());
  REQUIRE(run_once(b, "boot-1", shared, 3).ok());
  StoreBytes::take(b).restore(a);
  CHECK(spent(a, shared.artifact_digest) == 1);  // what B's store says
  CHECK(spent(a, only_a.artifact_digest) == 0);

  SECTION("a dry run counts this log") {
    UseStore s = store_in_boot(a, "boot-1");
    CHECK(s.check_left(only_a.artifact_digest, 1).reason == DenyReason::Replay);
    CHECK(s.check_left(shared.artifact_digest, 2).reason == DenyReason::Replay);
    CHECK(s.check_left(shared.artifact_digest, 3).allowed());
  }
  SECTION("the reservation rebuilds the counts: spent = max(the store's, the log's)") {
    auto again = run_once(a, "boot-1", only_a, 1);
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().reason == DenyReason::Replay);
    CHECK(spent(a, shared.artifact_digest) == 2);
    CHECK(spent(a, filler.artifact_digest) == 6);  // B's row: counts only ever go up
    auto third = run_once(a, "boot-1", shared, 3);
    REQUIRE(third.ok());
    CHECK(third->use.use_number == 3);
    CHECK_FALSE(run_once(a, "boot-1", shared, 3).ok());
  }
  SECTION("the rebuilt rows speak of this log: a later power loss is still recounted") {
    // B's row for `shared` has last_seq 7; this log's next receipt of it is seq 4. Kept as is,
    // that last_seq would hide seq 4 from the reconciliation after a power loss.
    REQUIRE(run_once(a, "boot-1", filler, 100).ok());  // the rebuild (and a row B knew)
    const StoreBytes before = StoreBytes::take(a);
    REQUIRE(run_once(a, "boot-1", shared, 3).ok());  // use 3 of 3, then power loss
    REQUIRE(run_once(a, "boot-1", filler, 100).ok());
    before.restore(a);
    CHECK(spent(a, shared.artifact_digest) == 2);
    auto again = run_once(a, "boot-2", shared, 3);
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().reason == DenyReason::Replay);
    CHECK(spent(a, shared.artifact_digest) == 3);
    CHECK(spent(a, filler.artifact_digest) == 8);
  }
  SECTION("after a reboot too") {
    auto again = run_once(a, "boot-2", only_a, 1);
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().reason == DenyReason::Replay);
    CHECK(spent(a, shared.artifact_digest) == 2);
  }
}

namespace {

std::string binding(const std::string& dir) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((dir + "/uses.db").c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT boot_id FROM log_sync WHERE id = 1", -1, &q, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(q) == SQLITE_ROW);
  std::string out = reinterpret_cast<const char*>(sqlite3_column_text(q, 0));
  sqlite3_finalize(q);
  sqlite3_close(db);
  return out;
}

void set_binding(const std::string& dir, const std::string& value) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((dir + "/uses.db").c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "UPDATE log_sync SET boot_id = ?1 WHERE id = 1", -1, &q, nullptr) == SQLITE_OK);
  sqlite3_bind_text(q, 1, value.c_str(), -1, SQLITE_TRANSIENT);
  REQUIRE(sqlite3_step(q) == SQLITE_DONE);
  sqlite3_finalize(q);
  sqlite3_close(db);
}

uint64_t log_inode(const std::string& dir) {
  struct stat st {};
  REQUIRE(stat((dir + "/receipts.log").c_str(), &st) == 0);
  return static_cast<uint64_t>(st.st_ino);
}

std::string head_log_id(const std::string& dir) {
  return nlohmann::json::parse(slurp(dir + "/receipts.head")).value("log_id", std::string());
}

}  // namespace

TEST_CASE("a store from another state directory whose log has the same inode number is rebuilt all the same") {
  // Two file systems (two tmpfs mounts, say) can give both receipts.log the
  // same inode number: the binding must tell the logs apart by more.
  gx::test::TempDir tmp{"record"};
  const std::string a = tmp.path + "/a", b = tmp.path + "/b";
  Receipt once = authorized_subject("same-inode-once");
  Receipt other = authorized_subject("same-inode-other");
  REQUIRE(run_once(a, "boot-1", once, 1).ok());
  REQUIRE(run_once(b, "boot-1", other, 5).ok());
  const std::string a_log_id = head_log_id(a), b_log_id = head_log_id(b);
  CHECK(a_log_id.size() == 32);
  CHECK(b_log_id.size() == 32);
  CHECK(a_log_id != b_log_id);
  CHECK(binding(a) == "boot-1/" + std::to_string(log_inode(a)) + "/" + a_log_id);
  // B's store, as if B's log had A's log's inode number: its binding's
  // inode is replaced by A's, everything else (B's log id) kept.
  StoreBytes::take(b).restore(a);
  std::string bound = binding(a);
  const auto first = bound.find('/');
  REQUIRE(first != std::string::npos);
  const auto second = bound.find('/', first + 1);
  bound = bound.substr(0, first + 1) + std::to_string(log_inode(a)) +
          (second == std::string::npos ? std::string() : bound.substr(second));
  set_binding(a, bound);
  CHECK(spent(a, once.artifact_digest) == 0);  // what B's store says

  SECTION("a dry run counts this log") {
    UseStore s = store_in_boot(a, "boot-1");
    CHECK(s.check_left(once.artifact_digest, 1).reason == DenyReason::Replay);
  }
  SECTION("the single-use artifact is a replay; the store is rebuilt and bound to this log") {
    auto again = run_once(a, "boot-1", once, 1);
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().reason == DenyReason::Replay);
    CHECK(spent(a, once.artifact_digest) == 1);
    CHECK(spent(a, other.artifact_digest) == 1);  // B's row: counts only ever go up
    REQUIRE(run_once(a, "boot-1", other, 5).ok());
    CHECK(binding(a) == "boot-1/" + std::to_string(log_inode(a)) + "/" + a_log_id);
  }
}

TEST_CASE("a binding of earlier gx (no log id) is rebuilt once, then kept") {
  gx::test::TempDir tmp{"record"};
  const std::string dir = tmp.path + "/state";
  Receipt a = authorized_subject("old-binding");
  Receipt b = authorized_subject("old-binding-other");
  REQUIRE(run_once(dir, "boot-1", a, 3).ok());
  REQUIRE(run_once(dir, "boot-1", a, 3).ok());
  const std::string now = binding(dir);
  for (const std::string& old : {"boot-1/" + std::to_string(log_inode(dir)), std::string("boot-1")}) {
    INFO(old);
    set_binding(dir, old);
    {
      // The rows forget a use: the rebuild finds it in the log.
      sqlite3* db = nullptr;
      REQUIRE(sqlite3_open((dir + "/uses.db").c_str(), &db) == SQLITE_OK);
      REQUIRE(sqlite3_exec(db, "UPDATE uses SET spent = 1", nullptr, nullptr, nullptr) == SQLITE_OK);
      sqlite3_close(db);
    }
    REQUIRE(run_once(dir, "boot-1", b, 9).ok());
    CHECK(spent(dir, a.artifact_digest) == 2);
    CHECK(binding(dir) == now);
  }
  CHECK(run_once(dir, "boot-1", a, 3).ok());
  CHECK_FALSE(run_once(dir, "boot-1", a, 3).ok());
}

TEST_CASE("ReceiptSync::DeferredNoHint: written, not durable until sync(), the head left behind") {
  Fixture f;
  auto rec = append_authorized_run(f.store, f.log, authorized_subject("nohint"), 2, kFar, nullptr, {},
                                   ReceiptSync::DeferredNoHint);
  INFO(rec.error().explain());
  REQUIRE(rec.ok());
  REQUIRE(rec->receipt.written_through);
  CHECK(log_lines(f.dir) == 1);
  CHECK(head_count(f.dir) == 0);
  CHECK(make_run_durable(f.log, rec->receipt).allowed());
  note_run_durable(f.store, f.log, rec->receipt);
  CHECK(head_count(f.dir) == 1);
}

// The authorized receipt of a use of `name`, written and not yet durable, as
// a standalone run hands it to its side thread (SyncHandoff::start).
AppendedReceipt written_for_handoff(Fixture& f, const std::string& name) {
  auto rec = append_authorized_run(f.store, f.log, authorized_subject(name), 2, kFar, nullptr, {},
                                   ReceiptSync::DeferredNoHint);
  REQUIRE(rec.ok());
  return rec->receipt;
}

// A receipt "written" through a pipe's read end: a pipe cannot be synced.
AppendedReceipt unsyncable_receipt() {
  int p[2];
  REQUIRE(pipe(p) == 0);
  AppendedReceipt fake;
  fake.written_through = std::make_shared<const fs::UniqueFd>(p[0]);
  close(p[1]);
  return fake;
}

TEST_CASE("SyncHandoff: the thread that serves syncs the receipt it was started with") {
  Fixture f;
  const AppendedReceipt receipt = written_for_handoff(f, "handoff");
  SyncHandoff h;
  std::thread side([&] { h.serve(); });  // waits: nothing started yet
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  h.start(f.log, receipt);
  Decision d = h.wait();
  h.close_host();  // no work comes: serve() returns once its verdict is out
  side.join();
  INFO(d.explain());
  CHECK(d.allowed());
  h.abandon();  // after start: no effect
  CHECK(h.wait().allowed());
}

TEST_CASE("SyncHandoff: a sync that fails is the verdict (the program must not start)") {
  // serve() must really sync the descriptor the receipt was written
  // through, and report its failure.
  Fixture f;
  SyncHandoff h;
  h.start(f.log, unsyncable_receipt());
  std::thread side([&] { h.serve(); });
  Decision d = h.wait();
  h.close_host();
  side.join();
  CHECK(d.reason == DenyReason::LogUnavailable);
  CHECK(d.detail.find("cannot sync the receipt log") != std::string::npos);
}

TEST_CASE("SyncHandoff: hosted work runs on the serving thread once the verdict is out, exactly once") {
  const bool sync_fails = GENERATE(false, true);
  const bool hosted_first = GENERATE(true, false);  // before the sync is over, or after
  INFO("sync fails " << sync_fails << ", hosted first " << hosted_first);
  Fixture f;
  const AppendedReceipt receipt = sync_fails ? unsyncable_receipt() : written_for_handoff(f, "hosted");
  SyncHandoff h;
  CHECK_FALSE(h.host([] {}));  // before start(): no serve() would reach it
  std::thread::id server;
  std::atomic<int> runs{0};
  std::optional<Decision> seen;
  auto work = [&] {
    ++runs;
    server = std::this_thread::get_id();
    seen = h.wait();  // the verdict, already out: no wait
  };
  h.start(f.log, receipt);
  CHECK_FALSE(h.host(work));  // no serve() under way: a step not begun may be skipped
  std::thread side([&] { h.serve(); });
  if (!hosted_first) (void)h.wait();  // the verdict is out, serve() still waits for a host or a close
  // Refused only until serve() has begun (at once when the verdict is out).
  bool hosted = h.host(work);
  for (int i = 0; i < 2000 && !hosted && hosted_first; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    hosted = h.host(work);
  }
  CHECK(hosted);
  CHECK_FALSE(h.host(work));  // one work only
  h.close_host();             // after host(): no effect
  const std::thread::id serving = side.get_id();
  side.join();
  CHECK(runs == 1);
  CHECK(server == serving);
  REQUIRE(seen.has_value());
  CHECK(seen->allowed() == !sync_fails);
}

TEST_CASE("SyncHandoff: closed, the serving thread returns after its verdict and takes no work") {
  Fixture f;
  SyncHandoff h;
  h.start(f.log, written_for_handoff(f, "closed"));
  std::thread side([&] { h.serve(); });
  CHECK(h.wait().allowed());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // serve() waits for work or a close by now
  h.close_host();
  side.join();  // would hang if close_host() did not wake it
  bool ran = false;
  CHECK_FALSE(h.host([&] { ran = true; }));
  CHECK_FALSE(ran);
}

TEST_CASE("SyncHandoff: abandoned, the thread that serves returns and nothing may start") {
  const bool serving_first = GENERATE(true, false);
  Fixture f;
  SyncHandoff h;
  std::thread side;
  if (serving_first) {
    side = std::thread([&] { h.serve(); });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // asleep in serve() by now
  }
  h.abandon();
  if (!serving_first) side = std::thread([&] { h.serve(); });
  side.join();  // would hang if serve() kept waiting
  Decision d = h.wait();
  CHECK(d.reason == DenyReason::LogUnavailable);
  CHECK(d.detail.find("never started") != std::string::npos);
  // A start after the abandon is too late: still refused, nothing synced.
  auto rec = append_authorized_run(f.store, f.log, authorized_subject("late"), 2, kFar);
  REQUIRE(rec.ok());
  h.start(f.log, rec->receipt);
  CHECK_FALSE(h.wait().allowed());
}

TEST_CASE("SyncHandoff: wait() before anything was started is a denial, never an allow") {
  SyncHandoff h;
  CHECK(h.wait().reason == DenyReason::LogUnavailable);
}
