// Reading a receipt line without its JSON tree (lib/receipt_line.h): it must
// accept only what the general reader accepts, give the same fields, and
// accept the receipts gx writes (or it would save nothing).
#include "lib/receipt_line.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tests/receipt_log_fixture.h"

using namespace gx;
using namespace gx::receipt_log_test;
using nlohmann::json;

namespace {

// The general reader, as gx log verify and the use store ran it before.
std::optional<Receipt> general(const std::string& line) {
  json j = parse_receipt_line(line);
  if (j.is_discarded() || canonical_dump(j) != line) return std::nullopt;
  auto r = Receipt::from_json(j);
  if (!r) return std::nullopt;
  return r.take();
}

struct Tally {
  size_t accepted = 0, declined = 0;
};

// The contract for one line: a line the fast reader accepts is one the
// general reader accepts, with the same fields, summary, line and body.
void agree(const std::string& line, Tally& tally) {
  auto fast = parse_canonical_line(line);
  if (!fast) {
    ++tally.declined;
    return;
  }
  ++tally.accepted;
  INFO("line: " << line);
  auto slow = general(line);
  REQUIRE(slow);
  CHECK(fast->fields.sandbox == json::object());
  CHECK(fast->sandbox_text(line) == canonical_dump(slow->sandbox));
  CHECK(fast->signed_body(line) == slow->signed_body());
  Receipt filled = fast->fields;
  filled.sandbox = slow->sandbox;
  CHECK(filled.line() == line);
  CHECK(filled.line() == slow->line());
}

std::vector<std::string> real_lines() {
  std::ifstream in(std::string(GX_SOURCE_DIR) + "/tests/data/receipts/real-v3.log");
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  REQUIRE(out.size() == 4);
  return out;
}

// Receipts of every kind and version, with plain fields (the fast reader's
// own) and a nested summary.
std::vector<Receipt> plain_receipts() {
  std::vector<Receipt> out;
  Receipt a = first_authorized();
  a.sig = "MEUCIQD+/abc==";
  a.key_id = "sha256:" + std::string(64, 'd');
  a.sandbox = json{{"landlock", {{"abi", 7}, {"notes", json::array()}, {"paths", {"/usr", "/tmp"}}}},
                   {"seccomp", {{"count", 158}, {"neg", -5}, {"big", 999999999999999999}, {"on", true}}},
                   {"none", nullptr},
                   {"empty", json::object()}};
  out.push_back(a);
  Receipt f = make_finished(a, std::string(32, 'e'), RunOutcome{42, 3, 0, 1500, 700, 300, 2048, 1});
  f.seq = 2;
  out.push_back(f);
  Receipt d = make_denied(a, Decision::deny(DenyReason::Replay, "spent"));
  d.parent = std::string(32, '1');
  d.lineage = {"sha256:" + std::string(64, '2'), "sha256:" + std::string(64, '3')};
  d.brokered = true;
  d.peer_uid = 1000, d.peer_gid = 1000, d.peer_pid = 4242;
  out.push_back(d);
  Receipt n = make_not_started(a, std::string(32, 'e'), Decision::deny(DenyReason::IoError, "exec failed"),
                               RunOutcome{7, -1, 9, 10});
  out.push_back(n);
  Receipt r = a;
  r.decision = ReceiptKind::Recovered;
  r.argv = {};
  r.signers = {};
  r.sandbox = json::object();
  out.push_back(r);
  for (int version : {1, 2}) {
    Receipt old = f;
    old.version = version;
    out.push_back(old);
  }
  Receipt extremes = a;
  extremes.uid = 999999999999999999;
  extremes.pid = -999999999999999999;
  extremes.exit_code = 0;
  extremes.argv = {"", "a", "~!@#$%^&*()_+{}|:<>?`-=[];',./ "};
  out.push_back(extremes);
  return out;
}

}  // namespace

TEST_CASE("parse_canonical_line accepts the receipts gx writes, with the general reader's fields") {
  Tally tally;
  for (const std::string& line : real_lines()) agree(line, tally);
  for (const Receipt& r : plain_receipts()) agree(r.line(), tally);
  // Every one of them is the fast reader's own: declining them would leave
  // verify at the general reader's speed.
  CHECK(tally.declined == 0);
  CHECK(tally.accepted == 4 + plain_receipts().size());
}

TEST_CASE("parse_canonical_line declines what it does not handle; the general reader decides") {
  Receipt a = plain_receipts().front();
  a.pid = 0;  // fixed values the replacements below look for (the process's
  a.uid = 0;  // own pid and uid otherwise)
  auto declined_but_valid = [](const Receipt& r) {
    const std::string line = r.line();
    CHECK_FALSE(parse_canonical_line(line));
    CHECK(general(line));
  };
  for (std::string s : {"\u00e9t\u00e9", "quote\"", "back\\slash", "tab\t", "\x7f", "\x01"}) {
    INFO(s);
    Receipt x = a;
    x.argv = {"/bin/echo", s};
    declined_but_valid(x);
    x = a;
    x.detail = s;
    declined_but_valid(x);
    x = a;
    x.sandbox = json{{"k", s}};
    declined_but_valid(x);
    x = a;
    x.sandbox = json{{s, 1}};
    declined_but_valid(x);
  }
  Receipt x = a;
  x.uid = 1000000000000000000;  // 19 digits
  declined_but_valid(x);
  x = a;
  x.sandbox = json{{"n", std::numeric_limits<int64_t>::min()}, {"u", 99999999999999999999.0}};
  declined_but_valid(x);
  x = a;
  x.sandbox = json{{"f", 1.5}};
  declined_but_valid(x);
  x = a;
  x.sandbox = json{{"u", std::numeric_limits<uint64_t>::max()}};
  declined_but_valid(x);

  // And lines no reader accepts: both refuse.
  auto refused = [](const std::string& line) {
    INFO(line);
    CHECK_FALSE(parse_canonical_line(line));
    CHECK_FALSE(general(line));
  };
  const std::string line = a.line();
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string l = line;
    const size_t at = l.find(from);
    REQUIRE(at != std::string::npos);
    return l.replace(at, from.size(), to);
  };
  refused(line + " ");
  refused(line + "{}");
  refused(" " + line);
  refused(replaced("\"uid\":", "\"uid\": "));
  refused(replaced("\"uid\":", "\"zzz\":1,\"uid\":"));  // unknown key
  refused(replaced("\"uid\":", "\"uid\":0,\"uid\":"));  // repeated key
  refused(replaced(",\"wall_us\":0", ""));              // missing key
  refused(replaced("\"version\":3", "\"version\":2"));  // v3 keys in a v2 line
  refused(replaced("\"version\":3", "\"version\":4"));  // unknown version
  refused(replaced("\"seq\":1", "\"seq\":0"));          // seq starts at 1
  refused(replaced("\"seq\":1", "\"seq\":-1"));
  refused(replaced("\"pid\":0,", "\"pid\":-0,"));  // "-0" is not canonical
  refused(replaced("\"uid\":0", "\"uid\":00"));
  refused(replaced("\"uid\":0", "\"uid\":0.0"));
  refused(replaced("\"uid\":0", "\"uid\":\"0\""));  // wrong type
  refused(replaced("\"brokered\":false", "\"brokered\":0"));
  refused(replaced("\"decision\":\"authorized\"", "\"decision\":\"allowed\""));
  refused(replaced("\"reason\":\"allow\"", "\"reason\":\"fine\""));
  refused(replaced("\"time\":\"2026-11-29T21:16:50.123456Z\"", "\"time\":\"2026-02-31T00:00:00Z\""));
  refused(replaced("\"empty\":{}", "\"empty\":{},\"empty\":{}"));     // repeated key in the summary
  refused(replaced("\"landlock\":", "\"seccomq\":1,\"landlock\":"));  // summary keys out of order
  refused(replaced("\"sandbox\":{", "\"sandbox\":["));
  {
    Receipt ns = a;
    ns.version = 1;
    ns.decision = ReceiptKind::NotStarted;  // v2 and later
    refused(ns.line());
  }
  // Nesting: the general reader's limit counts the receipt object too.
  auto nested = [&](size_t levels) {
    json deep = 1;
    for (size_t i = 0; i < levels; ++i) deep = json{{"d", deep}};
    Receipt n = a;
    n.sandbox = deep;
    return n.line();
  };
  Tally tally;
  agree(nested(kReceiptMaxDepth - 1), tally);
  CHECK(tally.accepted == 1);
  refused(nested(kReceiptMaxDepth));
}

TEST_CASE("parse_canonical_line agrees with the general reader on every one-byte change") {
  // Each position of a receipt with every kind of value, replaced by bytes
  // that change its meaning or its spelling, deleted and doubled. Every
  // line either reader takes is held to the contract; some changes are
  // still receipts (a digit), so the fast reader must accept some.
  const std::string line = plain_receipts().front().line();
  const std::string bytes = std::string("09-\"\\,:{}[] ae.tnu\x7f\x80\xff\n") + '\0';
  Tally tally;
  for (size_t at = 0; at < line.size(); ++at) {
    for (char b : bytes) {
      std::string l = line;
      l[at] = b;
      agree(l, tally);
    }
    agree(std::string(line).erase(at, 1), tally);
    agree(std::string(line).insert(at, 1, line[at]), tally);
  }
  CHECK(tally.accepted > 100);
  CHECK(tally.declined > tally.accepted);
  // The real receipt, at every position, with fewer bytes (it is longer).
  const std::string real = real_lines().front();
  Tally real_tally;
  for (size_t at = 0; at < real.size(); ++at)
    for (char b : std::string("1\"},")) {
      std::string l = real;
      l[at] = b;
      agree(l, real_tally);
    }
  CHECK(real_tally.accepted > 50);
}
