// Reading the receipt log without verifying it: `gx log show`'s filters
// (lib/receipt_scan.h).
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "lib/receipt.h"
#include "lib/receipt_log.h"
#include "tests/receipt_log_fixture.h"

using namespace gx;
using namespace gx::receipt_log_test;

TEST_CASE("show filters: denied, artifact, since, tail") {
  TempDir t;
  ReceiptLog log = open_log(t);
  fill_small(log);
  Receipt other = make_authorized(subject());
  other.artifact_id = "ffff0000";
  REQUIRE(log.append(other).ok());
  ReceiptFilter f;
  f.denied_only = true;
  auto r = read_receipt_log(t.state(), f);
  REQUIRE(r.ok());
  REQUIRE(r->receipts.size() == 1);
  CHECK(r->receipts[0].reason == "policy-mismatch");
  f = {};
  f.artifact = "ffff";
  r = read_receipt_log(t.state(), f);
  REQUIRE(r->receipts.size() == 1);
  f = {};
  f.tail = 2;
  r = read_receipt_log(t.state(), f);
  REQUIRE(r->receipts.size() == 2);
  CHECK(r->receipts[1].artifact_id == "ffff0000");
  f = {};
  f.since_us = now_unix_us() + 60 * 1000000;
  r = read_receipt_log(t.state(), f);
  CHECK(r->receipts.empty());
  { std::ofstream(t.log(), std::ios::app) << "junk\n"; }
  r = read_receipt_log(t.state());
  CHECK(r->receipts.size() == 4);
  CHECK(r->unreadable_lines == 1);
}

TEST_CASE("the listing: the same receipts whichever reader reads a line; summaries when asked; closed runs") {
  TempDir t;
  ReceiptLog log = open_log(t);
  fill_small(log);                                               // authorized, its finished, denied
  Receipt accented = make_authorized(subject("\u00e9t\u00e9"));  // the general reader's (non-ASCII)
  REQUIRE(log.append(accented).ok());
  const std::vector<std::string> lines = lines_of(slurp(t.log()));
  REQUIRE(lines.size() == 4);
  // A line that is a receipt but not canonical (a space after a colon):
  // listed, not verified.
  std::string spaced = lines[0];
  spaced.replace(spaced.find("\"argv\":"), 7, "\"argv\": ");
  { std::ofstream(t.log(), std::ios::app) << spaced; }

  auto all = read_receipt_log(t.state());
  REQUIRE(all.ok());
  REQUIRE(all->receipts.size() == 5);
  CHECK(all->unreadable_lines == 0);
  for (size_t i = 0; i < 4; ++i) CHECK(all->receipts[i].line() + "\n" == lines[i]);
  CHECK(all->receipts[4].line() + "\n" == lines[0]);
  for (const Receipt& r : all->receipts) CHECK(r.sandbox == subject().sandbox);
  CHECK(all->receipts[3].argv[1] == "\u00e9t\u00e9");
  // The finished receipt closes the first run, whatever the filter shows.
  CHECK(all->closed_runs == std::set<std::string>{all->receipts[0].id});
  ReceiptFilter denied;
  denied.denied_only = true;
  auto only = read_receipt_log(t.state(), denied);
  REQUIRE(only.ok());
  CHECK(only->receipts.size() == 1);
  CHECK(only->closed_runs == all->closed_runs);

  ReceiptFilter bare;
  bare.sandbox = false;
  auto without = read_receipt_log(t.state(), bare);
  REQUIRE(without.ok());
  REQUIRE(without->receipts.size() == 5);
  for (size_t i = 0; i < 5; ++i) {
    CHECK(without->receipts[i].sandbox == nlohmann::json::object());
    Receipt filled = without->receipts[i];
    filled.sandbox = subject().sandbox;
    CHECK(filled.line() == all->receipts[i].line());
  }
  ReceiptFilter last;
  last.tail = 1;
  auto tail = read_receipt_log(t.state(), last);
  REQUIRE(tail.ok());
  REQUIRE(tail->receipts.size() == 1);
  CHECK(tail->receipts[0].sandbox == subject().sandbox);
}
