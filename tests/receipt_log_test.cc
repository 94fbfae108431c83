// Receipt log: format, chain, signatures, tamper detection, concurrency,
// crash safety and fail-closed behaviour (lib/receipt_log.h).
#include "lib/receipt_log.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "lib/crypto.h"
#include "lib/fsutil.h"
#include "lib/receipt.h"
#include "lib/receipt_key.h"
#include "tests/receipt_log_fixture.h"

using namespace gx;

using namespace gx::receipt_log_test;

TEST_CASE("receipts are JSON lines with the documented hashed and signed bytes") {
  TempDir t;
  ReceiptLog log = open_log(t);
  auto a = log.append(make_authorized(subject()));
  REQUIRE(a.ok());
  CHECK(a->line == 1);
  RunOutcome out{4242, -1, 3, 1000, 10, 20, 999};
  auto f = log.append(make_finished(subject(), a->id, out));
  REQUIRE(f.ok());
  CHECK(f->line == 2);
  auto d = log.append(make_denied(subject(), Decision::deny(DenyReason::Expired, "artifact expired", "not_after")));
  REQUIRE(d.ok());

  auto lines = lines_of(slurp(t.log()));
  REQUIRE(lines.size() == 3);
  auto pub = crypto::load_public_key(t.state() + "/receipt.pub");
  REQUIRE(pub.ok());
  std::string prev(kGenesisHash);
  for (size_t i = 0; i < lines.size(); ++i) {
    REQUIRE(lines[i].back() == '\n');
    std::string line = lines[i].substr(0, lines[i].size() - 1);
    auto j = nlohmann::json::parse(line);
    CHECK(j["version"] == kReceiptVersionCurrent);
    CHECK(j["seq"] == i + 1);
    CHECK(j["prev"] == prev);
    CHECK(j["key_id"] == pub->key_id());
    // Signed bytes: the canonical dump without "sig", under PAE(kReceiptType).
    auto sig = crypto::base64_decode(j["sig"].get<std::string>());
    REQUIRE(sig.ok());
    j.erase("sig");
    CHECK(pub->verify(crypto::kReceiptType, j.dump(), *sig));
    CHECK_FALSE(pub->verify(crypto::kCheckpointType, j.dump(), *sig));
    // Chain: SHA-256(0x00 || line bytes without "\n").
    prev = crypto::sha256_hex(std::string(1, '\0') + line);
  }
  CHECK(prev == d->hash);

  auto listing = read_receipt_log(t.state());
  REQUIRE(listing.ok());
  REQUIRE(listing->receipts.size() == 3);
  const auto& fin = listing->receipts[1];
  CHECK(fin.decision == ReceiptKind::Finished);
  CHECK(fin.authorized_id == a->id);
  CHECK(fin.id == f->id);
  CHECK(fin.exit_code == -1);
  CHECK(fin.signal == 3);
  CHECK(fin.wall_us == 1000);
  CHECK(fin.max_rss_kb == 999);
  CHECK(fin.sandbox["landlock_abi"] == 7);
  const auto& den = listing->receipts[2];
  CHECK(den.decision == ReceiptKind::Denied);
  CHECK(den.reason == "expired");
  CHECK(den.detail.find("artifact expired") != std::string::npos);
  CHECK(listing->receipts[0].reason == "allow");
  CHECK(listing->receipts[0].argv == std::vector<std::string>{"/bin/echo", "hello"});
  CHECK(verify_ok(log).intact);
}

TEST_CASE("state dir 0700, receipt key 0600 created once and matching receipt.pub") {
  TempDir t;
  ReceiptLog log = open_log(t);
  struct stat st {};
  REQUIRE(stat(t.state().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  REQUIRE(stat((t.state() + "/receipt.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto pub = load_receipt_public_key(t.state());
  REQUIRE(pub.ok());
  CHECK(*pub == log.public_key());
  ReceiptLog again = open_log(t);
  CHECK(again.public_key() == log.public_key());

  SECTION("a key readable by others is refused") {
    chmod((t.state() + "/receipt.key").c_str(), 0640);
    auto bad = ReceiptLog::open(t.state());
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().reason == DenyReason::LogUnavailable);
  }
  SECTION("a configured --receipt-key is used and never created") {
    auto key = crypto::PrivateKey::generate();
    REQUIRE(key.ok());
    std::string key_path = t.path + "/other.key";
    REQUIRE(fs::write_file_atomic(key_path, key->pem(), 0600, fs::Overwrite::No).allowed());
    TempDir t2;
    ReceiptLogOptions o;
    o.receipt_key = key_path;
    ReceiptLog custom = open_log(t2, o);
    CHECK(custom.public_key() == key->public_key());
    CHECK_FALSE(fs::exists(t2.state() + "/receipt.key"));
    REQUIRE(custom.append(make_authorized(subject())).ok());
    CHECK(verify_ok(custom).intact);
    o.receipt_key = t.path + "/missing.key";
    CHECK_FALSE(ReceiptLog::open(t2.state(), o).ok());
  }
  SECTION("receipt.pub that does not match the key is refused") {
    auto other = crypto::PrivateKey::generate();
    REQUIRE(other.ok());
    spit(t.state() + "/receipt.pub", other->public_key().pem());
    auto bad = ReceiptLog::open(t.state());
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().reason == DenyReason::LogUnavailable);
  }
}

TEST_CASE("50 concurrent appenders make one valid chain of 100 receipts") {
  TempDir t;  // the key is created by the racing processes themselves
  std::vector<pid_t> kids;
  for (int i = 0; i < 50; ++i) {
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      auto log = ReceiptLog::open(t.state());
      if (!log) {
        std::fprintf(stderr, "appender %d: open: %s\n", i, log.error().explain().c_str());
        _exit(2);
      }
      for (int k = 0; k < 2; ++k)
        if (auto r = log->append(make_authorized(subject(std::to_string(i)))); !r.ok()) {
          std::fprintf(stderr, "appender %d: append %d: %s\n", i, k, r.error().explain().c_str());
          _exit(3);
        }
      _exit(0);
    }
    kids.push_back(pid);
  }
  for (pid_t pid : kids) {
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  }
  ReceiptLog log = open_log(t);
  VerifyReport rep = verify_ok(log);
  CHECK(rep.intact);
  CHECK(rep.records == 100);
  auto listing = read_receipt_log(t.state());
  REQUIRE(listing.ok());
  std::set<std::string> ids;
  std::map<std::string, int> per_arg;
  for (const auto& r : listing->receipts) {
    ids.insert(r.id);
    per_arg[r.argv.at(1)]++;
  }
  CHECK(ids.size() == 100);
  CHECK(per_arg.size() == 50);
  for (const auto& [arg, n] : per_arg) CHECK(n == 2);
}

TEST_CASE("a torn final record is reported, kept, and the chain continues") {
  TempDir t;
  ReceiptLog log = open_log(t);
  fill_small(log);
  std::string half = lines_of(slurp(t.log()))[0].substr(0, 100);  // no "\n"
  {
    std::ofstream out(t.log(), std::ios::binary | std::ios::app);
    out << half;
  }
  VerifyReport rep = verify_ok(log);
  CHECK_FALSE(rep.intact);
  CHECK(rep.torn_tail);
  CHECK(rep.bad_line == 4);
  CHECK(rep.records == 3);

  auto next = log.append(make_authorized(subject("after")));
  REQUIRE(next.ok());
  CHECK(next->line == 5);  // line 4 is the `recovered` receipt
  rep = verify_ok(log);
  CHECK(rep.intact);
  CHECK(rep.records == 5);
  auto listing = read_receipt_log(t.state());
  REQUIRE(listing.ok());
  const Receipt& rec = listing->receipts[3];
  CHECK(rec.decision == ReceiptKind::Recovered);
  CHECK(rec.detail.find(crypto::sha256_hex(half)) != std::string::npos);
  auto torn = nlohmann::json::parse(slurp(t.state() + "/receipts.torn"));
  CHECK(torn["length"] == half.size());
  auto bytes = crypto::base64_decode(torn["bytes_b64"].get<std::string>());
  REQUIRE(bytes.ok());
  CHECK(*bytes == half);
}

TEST_CASE("kill -9 at random moments never breaks earlier receipts") {
  std::mt19937 rng(12345);
  int tears = 0;
  uint64_t last_records = 0;
  std::unique_ptr<TempDir> dir;
  for (int attempt = 0; attempt < 30; ++attempt) {
    // A fresh log every 10 attempts keeps each verify (ECDSA per record) short.
    if (attempt % 10 == 0) {
      dir = std::make_unique<TempDir>();
      ReceiptLog warm = open_log(*dir);
      last_records = 0;
    }
    const TempDir& t = *dir;
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      auto log = ReceiptLog::open(t.state());
      if (!log) _exit(2);
      for (;;)
        if (!log->append(make_authorized(subject("loop"))).ok()) _exit(3);
    }
    usleep(std::uniform_int_distribution<useconds_t>(0, 40000)(rng));
    kill(pid, SIGKILL);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFSIGNALED(status));
    ReceiptLog log = open_log(t);
    VerifyReport rep = verify_ok(log);
    INFO("attempt " << attempt << ": " << rep.problem);
    // Intact, or only a torn final line: every earlier receipt verified.
    CHECK((rep.intact || (rep.torn_tail && rep.bad_line == rep.records + 1)));
    CHECK(rep.records >= last_records);
    if (rep.torn_tail) ++tears;
    auto next = log.append(make_authorized(subject("next")));
    REQUIRE(next.ok());
    rep = verify_ok(log);
    REQUIRE(rep.intact);
    last_records = rep.records;
  }
  WARN("torn tails observed: " << tears);
}

TEST_CASE("append fails closed and writes nothing when the log cannot be trusted or written") {
  TempDir t;
  SECTION("state path is a regular file") {
    REQUIRE(fs::make_dirs(t.path, 0700).allowed());
    spit(t.state(), "not a directory");
    auto log = ReceiptLog::open(t.state());
    REQUIRE_FALSE(log.ok());
    CHECK(log.error().reason == DenyReason::LogUnavailable);
  }
  SECTION("a state directory writable by others") {
    REQUIRE(fs::make_dirs(t.state(), 0700).allowed());
    chmod(t.state().c_str(), 0777);
    auto log = ReceiptLog::open(t.state());
    REQUIRE_FALSE(log.ok());
    CHECK(log.error().reason == DenyReason::LogUnavailable);
    CHECK_FALSE(fs::exists(t.state() + "/receipt.key"));
  }
  SECTION("receipts.log is a directory (works as root, unlike chmod)") {
    REQUIRE(fs::make_dirs(t.log(), 0700).allowed());
    auto log = ReceiptLog::open(t.state());
    REQUIRE_FALSE(log.ok());
    CHECK(log.error().reason == DenyReason::LogUnavailable);
  }
  SECTION("the log becomes unwritable after open") {
    ReceiptLog log = open_log(t);
    REQUIRE(log.append(make_authorized(subject())).ok());
    stdfs::rename(t.log(), t.path + "/moved.log");
    REQUIRE(fs::make_dirs(t.log(), 0700).allowed());
    auto r = log.append(make_authorized(subject()));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == DenyReason::LogUnavailable);
  }
  SECTION("the last complete line is not a receipt") {
    ReceiptLog log = open_log(t);
    fill_small(log);
    { std::ofstream(t.log(), std::ios::app) << "garbage\n"; }
    const std::string before = slurp(t.log());
    auto r = log.append(make_authorized(subject()));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == DenyReason::LogTampered);
    CHECK(slurp(t.log()) == before);
  }
  SECTION("records were removed from the end (head file tripwire)") {
    ReceiptLog log = open_log(t);
    fill_small(log);
    auto lines = lines_of(slurp(t.log()));
    lines.pop_back();
    spit(t.log(), join(lines));
    const std::string before = slurp(t.log());
    auto r = log.append(make_authorized(subject()));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == DenyReason::LogTampered);
    CHECK(slurp(t.log()) == before);
  }
  SECTION("a stale head file (crash before its update) is fine") {
    ReceiptLog log = open_log(t);
    fill_small(log);
    const std::string head = slurp(t.state() + "/receipts.head");
    REQUIRE(log.append(make_authorized(subject())).ok());
    spit(t.state() + "/receipts.head", head);
    REQUIRE(log.append(make_authorized(subject())).ok());
    CHECK(verify_ok(log).records == 5);
  }
}

TEST_CASE("hostile argv cannot break the line framing") {
  TempDir t;
  ReceiptLog log = open_log(t);
  Receipt r = make_authorized(subject());
  r.argv = {"a\nb", std::string("\xff\xfe", 2), "\x1b[2J", "\"},{\"seq\":9"};
  REQUIRE(log.append(r).ok());
  REQUIRE(log.append(make_authorized(subject())).ok());
  CHECK(lines_of(slurp(t.log())).size() == 2);
  CHECK(verify_ok(log).intact);
  auto listing = read_receipt_log(t.state());
  REQUIRE(listing.ok());
  CHECK(listing->receipts[0].argv[0] == "a\nb");
  CHECK(listing->receipts[0].argv[1] == "\xef\xbf\xbd\xef\xbf\xbd");  // U+FFFD twice
  CHECK(listing->receipts[0].argv[3] == "\"},{\"seq\":9");
}

TEST_CASE("a line nested deeper than kReceiptMaxDepth is refused before it is parsed, never crashing a reader") {
  Receipt r = first_authorized();
  r.argv = {"[[[[[[[[", "{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{", "\\\"[{"};
  const std::string line = r.line();
  nlohmann::json parsed = parse_receipt_line(line);
  REQUIRE(!parsed.is_discarded());  // brackets inside strings are text
  CHECK(canonical_dump(parsed) == line);
  auto nested = [](size_t n) { return "{\"x\":" + std::string(n, '[') + std::string(n, ']') + "}"; };
  CHECK(!parse_receipt_line(nested(kReceiptMaxDepth - 1)).is_discarded());
  CHECK(parse_receipt_line(nested(kReceiptMaxDepth)).is_discarded());
  // 150,000 levels: dump() of it would overflow the stack.
  CHECK(parse_receipt_line(nested(150000)).is_discarded());

  // Through the reconciliation reader: a report naming the byte, not a crash.
  TempDir t;
  auto log = ReceiptLog::open(t.state());
  REQUIRE(log.ok());
  REQUIRE(log->append(make_authorized(subject())).ok());
  {
    std::ofstream out(t.state() + "/receipts.log", std::ios::app);
    out << nested(150000) << "\n";
  }
  auto fd = fs::UniqueFd(::open((t.state() + "/receipts.log").c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  REQUIRE(fstat(fd.get(), &st) == 0);
  const std::string first = [&] {
    std::ifstream in(t.state() + "/receipts.log");
    std::string l;
    std::getline(in, l);
    return l;
  }();
  size_t seen = 0;
  auto end = scan_receipts(fd.get(), "receipts.log", 0, static_cast<uint64_t>(st.st_size),
                           ScanEnd{0, std::string(kGenesisHash)}, [&](const ScannedReceipt&) { ++seen; });
  REQUIRE(!end.ok());
  CHECK(end.error().reason == DenyReason::LogTampered);
  CHECK(end.error().detail.find("at byte " + std::to_string(first.size() + 1) + " (seq 2): not valid JSON") !=
        std::string::npos);
  CHECK(seen == 1);
  auto report = log->verify();
  REQUIRE(report.ok());
  CHECK(!report->intact);
  CHECK(report->bad_line == 2);
  auto listed = read_receipt_log(t.state());
  REQUIRE(listed.ok());
  CHECK(listed->receipts.size() == 1);
  CHECK(listed->unreadable_lines == 1);
}

TEST_CASE("v3 receipts record a brokered run's peer") {
  TempDir t;
  ReceiptLog log = open_log(t);
  Receipt r = make_authorized(subject());
  r.brokered = true;
  r.peer_uid = 1234;
  r.peer_gid = 99;
  r.peer_pid = 4321;
  REQUIRE(log.append(r).ok());
  REQUIRE(log.append(make_authorized(subject())).ok());
  auto listing = read_receipt_log(t.state());
  REQUIRE(listing.ok());
  REQUIRE(listing->receipts.size() == 2);
  CHECK(listing->receipts[0].version == 3);
  CHECK(listing->receipts[0].brokered);
  CHECK(listing->receipts[0].peer_uid == 1234);
  CHECK(listing->receipts[0].peer_gid == 99);
  CHECK(listing->receipts[0].peer_pid == 4321);
  CHECK_FALSE(listing->receipts[1].brokered);
  CHECK(listing->receipts[1].peer_uid == -1);
  auto rep = log.verify();
  REQUIRE(rep.ok());
  CHECK(rep->intact);
}

// ---- continuity of key and head (issue #9 items 13, 14, 16, 17) ----

TEST_CASE("a log keeps its key: a deleted key is not re-created and another key cannot append") {
  TempDir t;
  {
    ReceiptLog log = open_log(t);
    REQUIRE(log.append(make_authorized(subject())).ok());
  }
  const std::string key = t.state() + "/receipt.key";
  const std::string saved = t.path + "/saved.key";
  REQUIRE(rename(key.c_str(), saved.c_str()) == 0);
  auto bad = ReceiptLog::open(t.state());
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().reason == DenyReason::LogUnavailable);
  CHECK(bad.error().detail.find("receipt.key is missing") != std::string::npos);
  CHECK_FALSE(fs::exists(key));

  auto other = crypto::PrivateKey::generate();
  REQUIRE(other.ok());
  const std::string other_path = t.path + "/other.key";
  REQUIRE(fs::write_file_atomic(other_path, other->pem(), 0600, fs::Overwrite::No).allowed());
  REQUIRE(rename(saved.c_str(), key.c_str()) == 0);
  ReceiptLogOptions o;
  o.receipt_key = other_path;
  ReceiptLog foreign = open_log(t, o);
  auto r = foreign.append(make_authorized(subject()));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason == DenyReason::LogUnavailable);
  CHECK_FALSE(foreign.preflight().allowed());
  ReceiptLog mine = open_log(t);
  CHECK(mine.preflight().allowed());
  CHECK(verify_ok(mine).intact);
  CHECK(verify_ok(mine).records == 1);
}

TEST_CASE("a truncated log is detected when the head is deleted, garbled, a symlink or a FIFO") {
  TempDir t;
  ReceiptLog log = open_log(t);
  for (int i = 0; i < 3; ++i) REQUIRE(log.append(make_authorized(subject())).ok());
  const std::string head = t.state() + "/receipts.head";
  CHECK(slurp(head).find("\"version\":2") != std::string::npos);
  CHECK(slurp(head).find("\"log_id\":\"") != std::string::npos);
  auto lines = lines_of(slurp(t.log()));
  REQUIRE(lines.size() == 3);
  spit(t.log(), lines[0]);
  auto expect_broken = [&](const std::string& what) {
    auto rep = log.verify();
    REQUIRE(rep.ok());
    CHECK_FALSE(rep->intact);
    CHECK(rep->problem.find(what) != std::string::npos);
    CHECK_FALSE(log.preflight().allowed());
    auto a = log.append(make_authorized(subject()));
    REQUIRE_FALSE(a.ok());
    CHECK(a.error().reason == DenyReason::LogTampered);
  };
  SECTION("deleted") {
    REQUIRE(unlink(head.c_str()) == 0);
    expect_broken("receipts.head is missing");
  }
  SECTION("garbled") {
    spit(head, "garbage");
    expect_broken("receipts.head");
  }
  SECTION("unknown version") {
    spit(head, "{\"count\":1,\"hash\":\"" + std::string(64, '0') + "\",\"offset\":1,\"version\":3}");
    expect_broken("unsupported version");
  }
  SECTION("a symlink") {
    REQUIRE(unlink(head.c_str()) == 0);
    REQUIRE(symlink("/dev/null", head.c_str()) == 0);
    expect_broken("symlink");
  }
  SECTION("a FIFO (no hang)") {
    REQUIRE(unlink(head.c_str()) == 0);
    REQUIRE(mkfifo(head.c_str(), 0600) == 0);
    expect_broken("FIFO");
  }
}

TEST_CASE("a deleted log beside its key or head is not mistaken for a fresh one") {
  TempDir t;
  {
    ReceiptLog log = open_log(t);
    REQUIRE(log.append(make_authorized(subject())).ok());
  }
  REQUIRE(unlink(t.log().c_str()) == 0);
  auto bad = ReceiptLog::open(t.state());
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().reason == DenyReason::LogTampered);
  auto pub = load_receipt_public_key(t.state());
  REQUIRE(pub.ok());
  auto rep = verify_receipt_log(t.state(), *pub);
  REQUIRE(rep.ok());
  CHECK_FALSE(rep->intact);
}

TEST_CASE("state files are opened without following links: a symlinked ancestor works, a symlinked log does not") {
  TempDir t;
  REQUIRE(mkdir((t.path + "/real").c_str(), 0755) == 0);
  REQUIRE(symlink((t.path + "/real").c_str(), (t.path + "/link").c_str()) == 0);
  auto log = ReceiptLog::open(t.path + "/link/state");
  REQUIRE(log.ok());
  CHECK(log->state_dir() == t.path + "/real/state");
  REQUIRE(log->append(make_authorized(subject())).ok());
  CHECK(verify_ok(*log).intact);

  TempDir t2;
  REQUIRE(mkdir(t2.state().c_str(), 0700) == 0);
  REQUIRE(symlink((t2.path + "/elsewhere").c_str(), t2.log().c_str()) == 0);
  auto bad = ReceiptLog::open(t2.state());
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().reason == DenyReason::LogUnavailable);
  CHECK_FALSE(fs::exists(t2.path + "/elsewhere"));
}

TEST_CASE("every decision leaves a receipt: long fields are cut with their length and SHA-256") {
  TempDir t;
  ReceiptLog log = open_log(t);
  Receipt r = subject();
  const std::string big(128 * 1024, 'A');
  r.argv = {"/bin/echo"};
  for (int i = 0; i < 40; ++i) r.argv.push_back(big);
  r.detail = std::string(1 << 20, '\x01');  // escapes to 6 bytes each in JSON
  r.cwd = big;
  auto a = log.append(make_denied(r, Decision::deny(DenyReason::PolicyMismatch, r.detail)));
  REQUIRE(a.ok());
  auto listing = read_receipt_log(t.state());
  REQUIRE(listing.ok());
  REQUIRE(listing->receipts.size() == 1);
  const Receipt& got = listing->receipts[0];
  const std::string mark = "cut: 131072 bytes, sha256 " + crypto::sha256_hex(big) + "]";
  CHECK(got.cwd.size() <= kReceiptMaxFieldBytes);
  CHECK(got.cwd.find(mark) != std::string::npos);
  CHECK(got.argv[1].find(mark) != std::string::npos);
  CHECK(got.argv.back().find("more arguments") != std::string::npos);
  CHECK(got.detail.size() <= kReceiptMaxFieldBytes);
  CHECK(slurp(t.log()).size() < 1024 * 1024);
  CHECK(verify_ok(log).intact);
}

TEST_CASE("receipts signed with prepared nonces verify, each with its own nonce; a fork falls back to signing afresh") {
  TempDir t;
  ReceiptLog log = open_log(t);
  REQUIRE(log.prepare_nonces(2).allowed());
  // Made on another thread, as gx run does while it verifies.
  bool made = false;
  std::thread maker([&] { made = log.prepare_nonces(3).allowed(); });
  maker.join();
  REQUIRE(made);
  // 5 prepared + 3 signed the old way, interleaved with a fork that holds the pool.
  for (int i = 0; i < 4; ++i) REQUIRE(log.append(make_authorized(subject())).ok());
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // The parent's remaining nonce must not sign here: the child signs afresh.
    _exit(log.append(make_authorized(subject())).ok() ? 0 : 1);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  for (int i = 0; i < 3; ++i) REQUIRE(log.append(make_authorized(subject())).ok());
  auto pub = crypto::load_public_key(t.state() + "/receipt.pub");
  REQUIRE(pub.ok());
  auto report = verify_receipt_log(t.state(), *pub, std::nullopt, LogVerifyOptions{true, false});
  REQUIRE(report.ok());
  CHECK(report->intact);
  CHECK(report->records == 8);
  CHECK(report->signatures_checked == 8);
  // No two receipts share r (the first half of the signature): every nonce was used once.
  std::set<std::string> rs;
  for (const auto& l : lines_of(slurp(t.log()))) {
    auto sig = crypto::base64_decode(nlohmann::json::parse(l)["sig"].get<std::string>());
    REQUIRE(sig.ok());
    // DER: 30 len 02 rlen r... -- r's bytes identify the nonce.
    size_t rlen = static_cast<unsigned char>((*sig)[3]);
    rs.insert(sig->substr(4, rlen));
  }
  CHECK(rs.size() == 8);
}

TEST_CASE("a prepared nonce past its age limit signs nothing; the log signs afresh instead") {
  TempDir t;
  ReceiptLog log = open_log(t);
  REQUIRE(log.prepare_nonces(1).allowed());
  auto key = crypto::load_private_key(t.state() + "/receipt.key");
  REQUIRE(key.ok());
  auto nonce = key->prepare_nonce();
  REQUIRE(nonce.ok());
  REQUIRE(nonce->usable());
  std::this_thread::sleep_for(std::chrono::nanoseconds(crypto::PreparedNonce::kMaxAgeNs + 100'000'000));
  // Refused by the key itself: a snapshot restored twice must not sign two messages with it.
  CHECK_FALSE(nonce->usable());
  auto refused = key->sign_prepared(*nonce, crypto::kReceiptType, "late");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().detail.find("expired") != std::string::npos);
  // The log's own stale nonce is dropped and the receipt is signed with a hedged nonce.
  REQUIRE(log.prepared_nonces() == 1);
  REQUIRE(log.append(make_authorized(subject())).ok());
  CHECK(log.prepared_nonces() == 0);
  auto pub = crypto::load_public_key(t.state() + "/receipt.pub");
  REQUIRE(pub.ok());
  auto report = verify_receipt_log(t.state(), *pub, std::nullopt, LogVerifyOptions{true, false});
  REQUIRE(report.ok());
  CHECK(report->intact);
  CHECK(report->signatures_checked == 1);
  // drop_nonces destroys what is left.
  REQUIRE(log.prepare_nonces(2).allowed());
  log.drop_nonces();
  CHECK(log.prepared_nonces() == 0);
}

TEST_CASE("receipts.head names its log: a random log id, kept by every rewrite, given to an older head") {
  TempDir t;
  TempDir u;
  ReceiptLog log = open_log(t);
  const std::string head = t.state() + "/receipts.head";
  auto id_of = [](const std::string& text) {
    auto h = receipt_file::parse_head(text);
    REQUIRE(h.ok());
    return h->log_id;
  };
  const std::string id = id_of(slurp(head));  // made with the head, before any receipt
  CHECK(id.size() == 32);
  CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
  std::string seen;
  auto note = [&](const LogPosition& at) {
    seen = at.log_id;
    return Decision::allow();
  };
  REQUIRE(log.append(make_authorized(subject()), ReceiptSync::Now, note).ok());
  CHECK(seen == id);
  REQUIRE(log.append(make_authorized(subject()), ReceiptSync::Lazy).ok());
  auto deferred = log.append(make_authorized(subject()), ReceiptSync::Deferred);
  REQUIRE(deferred.ok());
  REQUIRE(log.sync(*deferred).allowed());
  auto count_of = [](const std::string& text) {
    auto h = receipt_file::parse_head(text);
    REQUIRE(h.ok());
    return h->count;
  };
  // The head waits for advance_head (kept off the exec's path, lib/run_record.h)...
  CHECK(count_of(slurp(head)) == 1);
  log.advance_head(*deferred);
  CHECK(count_of(slurp(head)) == 3);
  // ...and never goes back: a later append's head stays.
  auto later = log.append(make_authorized(subject()), ReceiptSync::Now);
  REQUIRE(later.ok());
  log.advance_head(*deferred);
  CHECK(count_of(slurp(head)) == 4);
  CHECK(verify_ok(log).intact);
  CHECK(id_of(slurp(head)) == id);
  CHECK(id_of(slurp(head)).size() == 32);
  CHECK(slurp(head).size() == 256);
  // Another log, another id.
  ReceiptLog other = open_log(u);
  CHECK(id_of(slurp(u.state() + "/receipts.head")) != id);

  SECTION("a head of an earlier gx (version 1, or unversioned) gets an id at the next append") {
    for (const char* version : {",\"version\":1", ""}) {
      INFO(version);
      auto h = receipt_file::parse_head(slurp(head));
      REQUIRE(h.ok());
      spit(head, "{\"count\":" + std::to_string(h->count) + ",\"hash\":\"" + h->hash +
                     "\",\"offset\":" + std::to_string(h->offset) + version + "}");
      CHECK(id_of(slurp(head)).empty());
      CHECK(verify_ok(log).intact);
      REQUIRE(log.append(make_authorized(subject()), ReceiptSync::Now, note).ok());
      const std::string given = id_of(slurp(head));
      CHECK(given.size() == 32);
      CHECK(seen == given);
      REQUIRE(log.append(make_authorized(subject()), ReceiptSync::Now, note).ok());
      CHECK(id_of(slurp(head)) == given);
      CHECK(verify_ok(log).intact);
    }
  }
  SECTION("a version 2 head without a valid log id is refused") {
    auto h = receipt_file::parse_head(slurp(head));
    REQUIRE(h.ok());
    const std::string base = "{\"count\":" + std::to_string(h->count) + ",\"hash\":\"" + h->hash +
                             "\",\"offset\":" + std::to_string(h->offset) + ",\"version\":2";
    for (const std::string& bad : {base + "}", base + ",\"log_id\":\"" + std::string(32, 'G') + "\"}",
                                   base + ",\"log_id\":\"abc\"}", base + ",\"log_id\":7}"}) {
      INFO(bad);
      spit(head, bad);
      CHECK_FALSE(receipt_file::parse_head(bad).ok());
      auto a = log.append(make_authorized(subject()));
      REQUIRE_FALSE(a.ok());
      CHECK(a.error().reason == DenyReason::LogTampered);
    }
    // A version 1 head must not carry one.
    CHECK_FALSE(receipt_file::parse_head(base.substr(0, base.size() - 1) + "1,\"log_id\":\"" + id + "\"}").ok());
  }
}

TEST_CASE("an append starts from the end it knows only when the log is that very file at that very size") {
  // Two writers, each holding the end it last saw: every append must still
  // chain to the receipt really before it (ReceiptLog::KnownEnd).
  TempDir t;
  ReceiptLog a = open_log(t);
  ReceiptLog b = open_log(t);  // both know the empty log
  REQUIRE(a.append(make_authorized(subject("a1"))).ok());
  REQUIRE(b.append(make_authorized(subject("b1"))).ok());  // b's end is stale: it reads a's receipt
  REQUIRE(a.append(make_authorized(subject("a2"))).ok());  // and a's is now
  REQUIRE(a.append(make_authorized(subject("a3"))).ok());  // its own end: nothing read
  // The same bytes under a new inode: not the file a knows.
  const std::string copy = t.path + "/copy.log";
  spit(copy, slurp(t.log()));
  chmod(copy.c_str(), 0600);
  REQUIRE(rename(copy.c_str(), t.log().c_str()) == 0);
  REQUIRE(a.append(make_authorized(subject("a4"))).ok());
  REQUIRE(b.append(make_authorized(subject("b2"))).ok());
  VerifyReport rep = verify_ok(a);
  INFO(rep.problem);
  CHECK(rep.intact);
  CHECK(rep.records == 6);
  auto lines = lines_of(slurp(t.log()));
  REQUIRE(lines.size() == 6);
  for (size_t i = 0; i < lines.size(); ++i) CHECK(nlohmann::json::parse(lines[i])["seq"] == i + 1);
}

TEST_CASE("a same-size rewrite of the last receipt under a writer that knows the end is exposed by verify") {
  // The append links to what it wrote, not to the rewritten bytes: the
  // chain breaks exactly at the rewrite (the contract in receipt_log.h).
  TempDir t;
  ReceiptLog log = open_log(t);
  fill_small(log);
  std::string bytes = slurp(t.log());
  const size_t at = bytes.rfind("\"argv differs\"");
  REQUIRE(at != std::string::npos);
  bytes[at + 1] = 'A';  // same size, same file
  {
    int fd = ::open(t.log().c_str(), O_WRONLY);
    REQUIRE(fd >= 0);
    REQUIRE(pwrite(fd, bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(bytes.size()));
    close(fd);
  }
  REQUIRE(log.append(make_authorized(subject())).ok());
  auto rep = log.verify();
  REQUIRE(rep.ok());
  CHECK_FALSE(rep->intact);
  CHECK(rep->bad_line == 3);  // the rewritten receipt: its signature, or the next one's link to it
  INFO(rep->problem);
}
