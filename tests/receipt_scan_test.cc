// Reading the receipt log without verifying it: `gx log show`'s filters
// (lib/receipt_scan.h).
#include <catch2/catch.hpp>
#include <fstream>
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
