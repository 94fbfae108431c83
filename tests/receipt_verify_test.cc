// Receipt log verification: tamper detection (every byte, every record
// deleted, duplicated or reordered) and checkpoints (lib/receipt_verify.h,
// lib/receipt_checkpoint.h).
#include <catch2/catch.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lib/clock.h"
#include "lib/crypto.h"
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

namespace {

VerifyReport verify_incremental(const ReceiptLog& log, const Checkpoint& cp) {
  LogVerifyOptions mode;
  mode.incremental = true;
  auto rep = verify_receipt_log(log.state_dir(), log.public_key(), cp, mode);
  REQUIRE(rep.ok());
  return *rep;
}

// A checkpoint signed with the log's own key (what only the key holder can make).
Checkpoint resign(const TempDir& t, Checkpoint c) {
  auto key = crypto::load_private_key(t.state() + "/receipt.key");
  REQUIRE(key.ok());
  c.sig.clear();
  auto sig = key->sign(crypto::kCheckpointType, c.signed_body());
  REQUIRE(sig.ok());
  c.sig = crypto::base64_encode(*sig);
  return c;
}

}  // namespace

TEST_CASE("incremental verification reads every byte after the checkpoint's receipt") {
  TempDir t;
  ReceiptLog log = open_log(t);
  fill_small(log);
  auto made = log.checkpoint();
  REQUIRE(made.ok());
  const Checkpoint cp = *made;
  CHECK(cp.version == 2);
  CHECK(cp.count == 3);
  CHECK(cp.offset == slurp(t.log()).size());
  // An interrupted run (authorized, never finished) and two more receipts.
  auto interrupted = log.append(make_authorized(subject("interrupted")));
  REQUIRE(interrupted.ok());
  fill_small(log);
  const std::string original = slurp(t.log());
  const auto lines = lines_of(original);
  REQUIRE(lines.size() == 7);

  VerifyReport rep = verify_incremental(log, cp);
  CHECK(rep.intact);
  CHECK(rep.checkpoint_matched);
  CHECK(rep.first_checked == 4);
  CHECK(rep.records == 7);
  CHECK(rep.end == original.size());

  // A forged "finished" receipt for the interrupted run: unsigned (the
  // attacker has no key), seq 1 so that a search for seq 3 passes over it.
  Receipt forged = make_finished(subject("interrupted"), interrupted->id, RunOutcome{0, 0, 0, 3000000, 1, 1, 1});
  forged.seq = 1;
  forged.id = std::string(32, 'f');
  forged.time = format_receipt_time(now_unix_us());
  forged.prev = std::string(64, '0');
  forged.key_id = log.public_key().key_id();
  forged.sig = crypto::base64_encode("not a signature");
  const std::string forged_line = forged.line() + "\n";

  SECTION("records planted after the checkpoint's receipt, before a copy of it (the finding)") {
    std::vector<std::string> tampered(lines.begin(), lines.begin() + 3);
    for (int i = 0; i < 40; ++i) tampered.push_back(forged_line);
    tampered.push_back(lines[2]);
    tampered.insert(tampered.end(), lines.begin() + 3, lines.end());
    spit(t.log(), join(tampered));
    rep = verify_incremental(log, cp);
    CHECK_FALSE(rep.intact);
    CHECK(rep.bad_line == 4);
    INFO(rep.problem);
    CHECK(rep.problem.find("sequence number 1 where 4") != std::string::npos);
    CHECK_FALSE(verify_ok(log, cp).intact);
  }
  SECTION("a duplicate of the checkpoint's receipt right after it") {
    auto dup = lines;
    dup.insert(dup.begin() + 3, lines[2]);
    spit(t.log(), join(dup));
    rep = verify_incremental(log, cp);
    CHECK_FALSE(rep.intact);
    CHECK(rep.bad_line == 4);
  }
  SECTION("a record inserted, deleted or reordered anywhere after the checkpoint") {
    for (size_t k = 3; k < lines.size(); ++k) {
      INFO("at line " << k + 1);
      auto ins = lines;
      ins.insert(ins.begin() + static_cast<long>(k), forged_line);
      spit(t.log(), join(ins));
      CHECK_FALSE(verify_incremental(log, cp).intact);
      auto del = lines;
      del.erase(del.begin() + static_cast<long>(k));
      spit(t.log(), join(del));
      // Deleting the last record is caught by the head file.
      CHECK_FALSE(verify_incremental(log, cp).intact);
      if (k + 1 < lines.size()) {
        auto swapped = lines;
        std::swap(swapped[k], swapped[k + 1]);
        spit(t.log(), join(swapped));
        CHECK_FALSE(verify_incremental(log, cp).intact);
      }
    }
  }
  SECTION("the log cut before the checkpoint's offset, the head rewritten to match") {
    std::vector<std::string> cut(lines.begin(), lines.begin() + 2);
    spit(t.log(), join(cut));
    std::string last = cut[1].substr(0, cut[1].size() - 1);
    spit(t.state() + "/receipts.head", "{\"count\":2,\"hash\":\"" + receipt_leaf_hash(last) +
                                           "\",\"offset\":" + std::to_string(join(cut).size()) + ",\"version\":1}");
    rep = verify_incremental(log, cp);
    CHECK_FALSE(rep.intact);
    CHECK(rep.bad_line == 3);
    CHECK(rep.problem.find("truncated") != std::string::npos);
  }
  SECTION("the checkpoint's receipt rewritten, or moved by an edit before it") {
    std::string bad = original;
    bad[cp.offset - 10] = static_cast<char>(bad[cp.offset - 10] ^ 1);
    spit(t.log(), bad);
    rep = verify_incremental(log, cp);
    CHECK_FALSE(rep.intact);
    CHECK(rep.bad_line == 3);
    CHECK(rep.problem.find("differs from the checkpoint") != std::string::npos);
    auto shifted = lines;
    shifted.erase(shifted.begin());
    spit(t.log(), join(shifted));
    rep = verify_incremental(log, cp);
    CHECK_FALSE(rep.intact);
    CHECK(rep.bad_line == 3);
  }
  SECTION("edits before the checkpoint's receipt are out of incremental mode's scope") {
    // Same length, canonical: an id digit of line 1 changed. Only a full
    // verify reads line 1 (documented: lib/receipt_verify.h).
    std::string bad = original;
    const size_t at = bad.find("\"id\":\"") + 6;
    bad[at] = bad[at] == 'a' ? 'b' : 'a';
    spit(t.log(), bad);
    CHECK(verify_incremental(log, cp).intact);
    rep = verify_ok(log, cp);  // every signature: line 1's fails
    CHECK_FALSE(rep.intact);
    CHECK(rep.bad_line == 1);
  }
  SECTION("a version 1 checkpoint (no offset) verifies the whole log") {
    Checkpoint v1 = cp;
    v1.version = 1;
    v1.offset = 0;
    v1 = resign(t, v1);
    auto parsed = Checkpoint::parse(v1.text());
    REQUIRE(parsed.ok());
    CHECK(parsed->version == 1);
    CHECK(parsed->text().find("offset") == std::string::npos);
    REQUIRE(parsed->signature_valid(log.public_key()));
    rep = verify_incremental(log, *parsed);
    CHECK(rep.intact);
    CHECK(rep.checkpoint_matched);
    CHECK(rep.first_checked == 1);
    std::vector<std::string> tampered(lines.begin(), lines.begin() + 3);
    for (int i = 0; i < 40; ++i) tampered.push_back(forged_line);
    tampered.push_back(lines[2]);
    tampered.insert(tampered.end(), lines.begin() + 3, lines.end());
    spit(t.log(), join(tampered));
    rep = verify_incremental(log, *parsed);
    CHECK_FALSE(rep.intact);
    CHECK(rep.bad_line == 4);
  }
  SECTION("a signed checkpoint whose offset is not where its receipt ends never matches") {
    Checkpoint off = cp;
    off.offset = cp.offset - 1;
    off = resign(t, off);
    rep = verify_incremental(log, off);
    CHECK_FALSE(rep.intact);
    CHECK(rep.bad_line == 3);
    rep = verify_ok(log, off);
    CHECK_FALSE(rep.intact);
    CHECK(rep.bad_line == 3);
    CHECK(rep.problem.find("not at byte") != std::string::npos);
  }
}

TEST_CASE("checkpoint versions: 2 has an offset, 1 has none, others are refused") {
  Checkpoint c;
  c.origin = "h";
  c.count = 2;
  c.head = std::string(64, 'a');
  c.offset = 900;
  c.time = "2026-01-01T00:00:00.000000Z";
  c.key_id = "sha256:" + std::string(64, 'b');
  c.sig = "AA==";
  auto v2 = Checkpoint::parse(c.text());
  REQUIRE(v2.ok());
  CHECK(v2->offset == 900);
  CHECK(v2->text() == c.text());
  auto with = [&](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json j = c.to_json();
    edit(j);
    return Checkpoint::parse(j.dump());
  };
  auto r = with([](auto& j) { j.erase("offset"); });
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason == DenyReason::MissingField);
  CHECK(r.error().field == "offset");
  r = with([](auto& j) { j["version"] = 1; });
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason == DenyReason::UnknownField);
  r = with([](auto& j) {
    j["version"] = 1;
    j.erase("offset");
  });
  REQUIRE(r.ok());
  CHECK(r->version == 1);
  r = with([](auto& j) { j["version"] = 3; });
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason == DenyReason::UnsupportedVersion);
  r = with([](auto& j) { j["offset"] = 0; });
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason == DenyReason::InvalidValue);
  r = with([](auto& j) { j["offset"] = -1; });
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason == DenyReason::WrongType);
}
