// lib/broker_state: a broker worker's kept state, and when it is re-read.
#include "lib/broker_state.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "lib/crypto.h"
#include "lib/receipt.h"
#include "lib/receipt_log.h"
#include "lib/trust_store.h"
#include "tests/test_util.h"

using namespace gx;
using gx::broker::ReadStamp;
using gx::broker::WorkerState;
using gx::test::TempDir;

namespace {

constexpr int64_t kSecond = 1'000'000'000;

FileStamp stamp(int64_t mtime_ns, int64_t ctime_ns, uint64_t size = 10) {
  FileStamp f;
  f.dev = 1;
  f.ino = 2;
  f.size = size;
  f.mtime_ns = mtime_ns;
  f.ctime_ns = ctime_ns;
  return f;
}

ReadStamp read_at(const FileStamp& f, int64_t started_ns) {
  ReadStamp r;
  r.exists = true;
  r.stamp = f;
  r.read_started_ns = started_ns;
  return r;
}

struct Dirs {
  TempDir t{"broker-state"};
  std::string gxdir = t.path + "/gx";
  broker::BrokerConfig config;
  Dirs() {
    REQUIRE(mkdir(gxdir.c_str(), 0700) == 0);
    config.trust_path = gxdir + "/trust.toml";
    config.state_dir = gxdir + "/state";
    save_trust(1);
  }
  void save_trust(int threshold) {
    TrustStore s;
    s.threshold = threshold;
    s.keys.push_back(gx::test::trusted(crypto::PrivateKey::generate()->public_key(), "tester"));
    REQUIRE(s.save(config.trust_path).allowed());
  }
};

}  // namespace

TEST_CASE("broker state: a stamp matches only the same, settled file") {
  const int64_t t = 1'000'000 * kSecond;
  const FileStamp old = stamp(t - 10 * kSecond, t - 10 * kSecond);
  CHECK(read_at(old, t).matches(old));
  CHECK_FALSE(read_at(old, t).matches(std::nullopt));                           // removed
  CHECK_FALSE(read_at(old, t).matches(stamp(old.mtime_ns, old.ctime_ns, 11)));  // size
  FileStamp other_inode = old;
  other_inode.ino = 3;
  CHECK_FALSE(read_at(old, t).matches(other_inode));  // replaced
  FileStamp touched = old;
  touched.ctime_ns += 1;
  CHECK_FALSE(read_at(old, t).matches(touched));  // chmod, chown, write
  // Changed within the racy window before it was read: a same-tick rewrite
  // of the same size would keep this stamp, so the read proves nothing.
  const FileStamp fresh_mtime = stamp(t - kSecond, t - 10 * kSecond);
  CHECK_FALSE(read_at(fresh_mtime, t).matches(fresh_mtime));
  const FileStamp fresh_ctime = stamp(t - 10 * kSecond, t - kSecond);
  CHECK_FALSE(read_at(fresh_ctime, t).matches(fresh_ctime));
  // An unknown stamp (the file moved while it was read) never matches.
  ReadStamp moved;
  moved.exists = true;
  CHECK_FALSE(moved.matches(old));
  // A file that was missing matches only while it is still missing.
  ReadStamp missing;
  CHECK(missing.matches(std::nullopt));
  CHECK_FALSE(missing.matches(old));
}

TEST_CASE("broker state: loaded once, re-read when racy or changed, fail closed") {
  Dirs d;
  WorkerState state(d.config);
  const auto now = static_cast<UnixTime>(time(nullptr));
  auto first = state.current(now);
  REQUIRE(first);
  CHECK(state.loads().trust == 1);
  CHECK(state.loads().use_store == 1);
  CHECK((*first)->trust->threshold == 1);
  // The trust store was written just now: its stamp is racy, so it is read
  // again rather than trusted.
  REQUIRE(state.current(now));
  CHECK(state.loads().trust == 2);
  CHECK(state.loads().revocations == 2);  // a new trust store re-reads the list

  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  REQUIRE(state.current(now));  // read once more, now settled
  const auto settled = state.loads();
  auto kept = state.current(now);
  REQUIRE(kept);
  CHECK(state.loads().trust == settled.trust);
  CHECK(state.loads().revocations == settled.revocations);
  CHECK(state.loads().receipt_log == settled.receipt_log);
  CHECK(state.loads().use_store == 1);  // one connection for the worker's life

  // A rewritten trust store is read for the very next request.
  d.save_trust(2);
  auto changed = state.current(now);
  REQUIRE(changed);
  CHECK(state.loads().trust == settled.trust + 1);
  CHECK((*changed)->trust->threshold == 2);

  // A trust store made writable by others is refused at once, although its
  // stamp did not change since it was read... (chmod changes ctime; the
  // directory above it does not touch the file's stamp at all).
  REQUIRE(chmod(d.gxdir.c_str(), 0777) == 0);
  const uint64_t failed_before = state.loads().failed;
  auto unsafe = state.current(now);
  CHECK_FALSE(unsafe);
  // Counted: the request then loads its own state, and its worker is not
  // reused (lib/broker.cc).
  CHECK(state.loads().failed == failed_before + 1);
  REQUIRE(chmod(d.gxdir.c_str(), 0700) == 0);
  CHECK(state.current(now));
  CHECK(state.loads().failed == failed_before + 1);

  // A missing trust store is an error for every request until it is back.
  REQUIRE(rename(d.config.trust_path.c_str(), (d.config.trust_path + ".away").c_str()) == 0);
  CHECK_FALSE(state.current(now));
  CHECK_FALSE(state.current(now));
  REQUIRE(rename((d.config.trust_path + ".away").c_str(), d.config.trust_path.c_str()) == 0);
  CHECK(state.current(now));
}

TEST_CASE("broker state: a replaced use store is reopened") {
  Dirs d;
  WorkerState state(d.config);
  const auto now = static_cast<UnixTime>(time(nullptr));
  REQUIRE(state.current(now));
  REQUIRE(state.current(now));
  CHECK(state.loads().use_store == 1);
  const std::string db = UseStore::db_path(d.config.state_dir);
  for (const char* suffix : {"", "-wal", "-shm"}) REQUIRE(unlink((db + suffix).c_str()) == 0);
  REQUIRE(state.current(now));
  CHECK(state.loads().use_store == 2);
}

TEST_CASE("broker state: a state directory replaced at its path is opened again") {
  Dirs d;
  WorkerState state(d.config);
  const auto now = static_cast<UnixTime>(time(nullptr));
  auto before = state.current(now);
  REQUIRE(before);
  const auto loads = state.loads();
  REQUIRE(rename(d.config.state_dir.c_str(), (d.config.state_dir + ".old").c_str()) == 0);
  auto after = state.current(now);
  REQUIRE(after);
  CHECK(state.loads().receipt_log == loads.receipt_log + 1);
  CHECK(state.loads().use_store == loads.use_store + 1);
  // The new log is in the new directory, not the renamed one.
  CHECK((*after)->receipt_log->state_dir() == d.config.state_dir);
  struct stat st {};
  CHECK(stat((d.config.state_dir + "/receipt.key").c_str(), &st) == 0);
}

TEST_CASE("broker state: a spare signs its request's two receipts with nonces made at preload, then as before") {
  Dirs d;
  {
    // The log and its key exist and have settled (a key made just now is
    // racy and would make the request open the log again, without them).
    WorkerState first(d.config);
    REQUIRE(first.current(static_cast<UnixTime>(time(nullptr))));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  WorkerState state(d.config);
  const auto now = static_cast<UnixTime>(time(nullptr));
  state.preload(now);
  auto ctx = state.current(now);
  REQUIRE(ctx);
  ReceiptLog& log = *(*ctx)->receipt_log;
  CHECK(log.prepared_nonces() == 2);
  Receipt r = receipt_for_this_process();
  r.decision = ReceiptKind::Authorized;
  for (size_t left : {1, 0, 0}) {
    REQUIRE(log.append(r).ok());
    CHECK(log.prepared_nonces() == left);
  }
  auto key = crypto::load_public_key(d.config.state_dir + "/receipt.pub");
  REQUIRE(key.ok());
  std::ifstream in(d.config.state_dir + "/" + std::string(kReceiptLogFile));
  int lines = 0;
  for (std::string line; std::getline(in, line); ++lines) {
    auto j = nlohmann::json::parse(line);
    auto sig = crypto::base64_decode(j["sig"].get<std::string>());
    REQUIRE(sig.ok());
    j.erase("sig");
    CHECK(key->verify(crypto::kReceiptType, j.dump(), *sig));
  }
  CHECK(lines == 3);
}
