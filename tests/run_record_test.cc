// Recording a run before exec (lib/run_record.h): the order of the steps,
// that the use and the authorized receipt are both in place before success,
// that a failure at any step never reports success, and that the receipt
// head never runs ahead of a synced receipt.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "lib/crypto.h"
#include "lib/receipt_log.h"
#include "lib/run_record.h"
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

TEST_CASE("record_authorized_run: reserve, append, sync the use, then the receipt") {
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
  CHECK(steps == std::vector<RecordStep>{RecordStep::Reserved, RecordStep::Appended, RecordStep::UseSynced,
                                          RecordStep::ReceiptSynced});
  // The head only moves once the receipt is synced.
  CHECK(heads == std::vector<uint64_t>{0, 0, 0, 1});
  CHECK(rec->use.use_number == 1);
  CHECK(rec->receipt.line == 1);
  CHECK(spent(f.dir, a.artifact_digest) == 1);
  CHECK(log_lines(f.dir) == 1);
  auto report = f.log.verify();
  REQUIRE(report.ok());
  CHECK(report->intact);
}

TEST_CASE("record_authorized_run: a failure at any step is never a success, and the use stays spent") {
  const RecordStep fail_at = GENERATE(RecordStep::Reserved, RecordStep::Appended, RecordStep::UseSynced,
                                      RecordStep::ReceiptSynced);
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
  const int die_at = GENERATE(0, 1, 2, 3);
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

TEST_CASE("UseStore creates its WAL itself, so a deferred reserve needs no directory sync") {
  gx::test::TempDir tmp{"record"};
  auto s = UseStore::open(tmp.path);
  REQUIRE(s.ok());
  struct stat st {};
  REQUIRE(lstat((tmp.path + "/uses.db-wal").c_str(), &st) == 0);
  CHECK((st.st_mode & 077) == 0);
  auto r = s->reserve("sha256:" + crypto::sha256_hex("w"), 2, kFar, UseDurability::Deferred);
  REQUIRE(r.ok());
  CHECK(s->sync().allowed());
  CHECK(spent(tmp.path, "sha256:" + crypto::sha256_hex("w")) == 1);
}
