// Receipt log verification: tamper detection (every byte, every record
// deleted, duplicated or reordered) and checkpoints (lib/receipt_verify.h,
// lib/receipt_checkpoint.h).
#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lib/receipt.h"
#include "lib/receipt_log.h"
#include "tests/receipt_log_fixture.h"

using namespace gx;
using namespace gx::receipt_log_test;

TEST_CASE("changing any byte of any record fails verification at that record") {
  TempDir t;
  ReceiptLog log = open_log(t);
  // Two short records keep the loop cheap: every verify runs ECDSA on the
  // records before the changed one.
  Receipt minimal = make_authorized(Receipt{});
  minimal.argv = {"/bin/true"};
  auto a = log.append(minimal);
  REQUIRE(a.ok());
  REQUIRE(log.append(make_finished(minimal, a->id, RunOutcome{7, 0, 0, 1, 1, 1, 1})).ok());
  const std::string original = slurp(t.log());
  const auto lines = lines_of(original);
  REQUIRE(lines.size() == 2);
  REQUIRE(verify_ok(log).intact);
  size_t offset = 0;
  for (size_t li = 0; li < lines.size(); ++li) {
    for (size_t b = 0; b < lines[li].size(); ++b, ++offset) {
      // Every byte with its low bit flipped; every 5th also made non-ASCII.
      for (int mask : {0x01, 0x80}) {
        if (mask == 0x80 && offset % 5 != 0) continue;
        std::string bad = original;
        bad[offset] = static_cast<char>(bad[offset] ^ mask);
        spit(t.log(), bad);
        VerifyReport rep = verify_ok(log);
        INFO("line " << li + 1 << " byte " << b << " mask " << int(mask) << ": " << rep.problem);
        REQUIRE_FALSE(rep.intact);
        REQUIRE(rep.bad_line == li + 1);
        REQUIRE(rep.records == li);
        REQUIRE(rep.decision().reason == DenyReason::LogTampered);
      }
    }
  }
  spit(t.log(), original);
  CHECK(verify_ok(log).intact);
}

TEST_CASE("deleting, duplicating or reordering records fails at that record") {
  TempDir t;
  ReceiptLog log = open_log(t);
  fill_small(log);
  REQUIRE(log.append(make_authorized(subject("4"))).ok());
  const std::string original = slurp(t.log());
  const auto lines = lines_of(original);
  const size_t n = lines.size();
  for (size_t k = 0; k < n; ++k) {
    INFO("record " << k + 1);
    auto del = lines;
    del.erase(del.begin() + static_cast<long>(k));
    spit(t.log(), join(del));
    VerifyReport rep = verify_ok(log);
    CHECK_FALSE(rep.intact);
    // Deleting the last record is caught by the head file (tripwire).
    CHECK(rep.bad_line == k + 1);

    auto dup = lines;
    dup.insert(dup.begin() + static_cast<long>(k), lines[k]);
    spit(t.log(), join(dup));
    rep = verify_ok(log);
    CHECK_FALSE(rep.intact);
    CHECK(rep.bad_line == k + 2);

    if (k + 1 < n) {
      auto swapped = lines;
      std::swap(swapped[k], swapped[k + 1]);
      spit(t.log(), join(swapped));
      rep = verify_ok(log);
      CHECK_FALSE(rep.intact);
      CHECK(rep.bad_line == k + 1);
    }
  }
  spit(t.log(), original);
  CHECK(verify_ok(log).intact);
}

TEST_CASE("a checkpoint catches truncation and rewriting before it") {
  TempDir t;
  ReceiptLog log = open_log(t);
  fill_small(log);
  auto cp = log.checkpoint();
  REQUIRE(cp.ok());
  CHECK(cp->count == 3);
  auto parsed = Checkpoint::parse(cp->text());
  REQUIRE(parsed.ok());
  CHECK(parsed->signature_valid(log.public_key()));
  REQUIRE(log.append(make_authorized(subject("later"))).ok());
  VerifyReport rep = verify_ok(log, *parsed);
  CHECK(rep.intact);
  CHECK(rep.checkpoint_matched);

  SECTION("truncation, even with the head file rewritten to match") {
    auto lines = lines_of(slurp(t.log()));
    lines.resize(2);
    spit(t.log(), join(lines));
    REQUIRE(unlink((t.state() + "/receipts.head").c_str()) == 0);
    CHECK_FALSE(verify_ok(log).intact);  // a deleted head is seen...
    std::string last = lines[1].substr(0, lines[1].size() - 1);
    spit(t.state() + "/receipts.head", "{\"count\":2,\"hash\":\"" + receipt_leaf_hash(last) +
                                           "\",\"offset\":" + std::to_string(join(lines).size()) + ",\"version\":1}");
    CHECK(verify_ok(log).intact);   // ...a consistent one, by whoever holds the state, is not...
    rep = verify_ok(log, *parsed);  // ...the checkpoint can
    CHECK_FALSE(rep.intact);
    CHECK(rep.bad_line == 3);
    CHECK(rep.problem.find("truncated") != std::string::npos);
  }
  SECTION("a rewritten log signed with the same key") {
    TempDir other;
    ReceiptLogOptions o;
    o.receipt_key = t.state() + "/receipt.key";
    ReceiptLog forged = open_log(other, o);
    for (int i = 0; i < 4; ++i) REQUIRE(forged.append(make_authorized(subject("forged"))).ok());
    REQUIRE(verify_ok(forged).intact);
    spit(t.log(), slurp(other.log()));
    rep = verify_ok(log, *parsed);
    CHECK_FALSE(rep.intact);
    CHECK(rep.bad_line == 3);
    CHECK(rep.problem.find("checkpoint") != std::string::npos);
  }
  SECTION("a checkpoint with a bad signature is refused") {
    Checkpoint bad = *parsed;
    bad.count = 1;
    auto r = log.verify(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == DenyReason::InvalidSignature);
  }
  SECTION("no checkpoint is signed for a broken log") {
    std::string data = slurp(t.log());
    data[20] = static_cast<char>(data[20] ^ 1);
    spit(t.log(), data);
    auto refused = log.checkpoint();
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().reason == DenyReason::LogTampered);
  }
}
