// The receipt record: strict parsing and its time format (lib/receipt.h).
#include "lib/receipt.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "lib/clock.h"
#include "tests/receipt_log_fixture.h"

using namespace gx;
using namespace gx::receipt_log_test;

TEST_CASE("receipt parsing is strict") {
  Receipt r = first_authorized();
  auto j = r.to_json();
  REQUIRE(Receipt::from_json(j).ok());
  auto with = [&](auto edit) {
    auto copy = j;
    edit(copy);
    return Receipt::from_json(copy);
  };
  CHECK(with([](nlohmann::json& x) { x["extra"] = 1; }).error().reason == DenyReason::UnknownField);
  CHECK(with([](nlohmann::json& x) { x.erase("argv"); }).error().reason == DenyReason::MissingField);
  CHECK(with([](nlohmann::json& x) { x["version"] = kReceiptVersionCurrent + 1; }).error().reason ==
        DenyReason::UnsupportedVersion);
  CHECK(with([](nlohmann::json& x) { x["brokered"] = 1; }).error().reason == DenyReason::WrongType);
  CHECK(with([](nlohmann::json& x) { x.erase("peer_pid"); }).error().reason == DenyReason::MissingField);
  CHECK(with([](nlohmann::json& x) { x["lineage"] = "sha256:00"; }).error().reason == DenyReason::WrongType);
  CHECK(with([](nlohmann::json& x) { x.erase("lineage"); }).error().reason == DenyReason::MissingField);
  // A v2 line has no peer fields and no lineage, and may not have them.
  CHECK(with([](nlohmann::json& x) {
          x["version"] = 2;
          for (auto k : {"brokered", "peer_uid", "peer_gid", "peer_pid", "lineage"}) x.erase(k);
        }).ok());
  CHECK(with([](nlohmann::json& x) { x["version"] = 2; }).error().reason == DenyReason::UnknownField);
  CHECK(with([](nlohmann::json& x) { x["uid"] = "0"; }).error().reason == DenyReason::WrongType);
  CHECK(with([](nlohmann::json& x) { x["reason"] = "fine"; }).error().reason == DenyReason::InvalidValue);
  CHECK(with([](nlohmann::json& x) { x["decision"] = "allowed"; }).error().reason == DenyReason::InvalidValue);
  CHECK(with([](nlohmann::json& x) { x["sandbox"] = nlohmann::json::array(); }).error().reason ==
        DenyReason::WrongType);
  CHECK(with([](nlohmann::json& x) { x["time"] = "2026-02-31T00:00:00Z"; }).error().reason == DenyReason::InvalidValue);
}

TEST_CASE("Receipt::text: one serialization gives exactly the canonical signed body and line") {
  // append() signs text().body() and writes text().line_with(sig); a
  // verifier parses the line, erases "sig" and dumps the rest canonically.
  // They must agree byte for byte, whatever the fields hold.
  Receipt r = first_authorized();
  auto same = [](Receipt x) {
    for (std::string sig : {std::string(), std::string("MEUCIQD+/=="), std::string("\"sig\":\"x\",\u00e9\n")}) {
      x.sig = sig;
      const Receipt::Text t = x.text();
      nlohmann::json j = x.to_json();
      CHECK(t.line_with(sig) == canonical_dump(j));
      CHECK(x.line() == canonical_dump(j));
      j.erase("sig");
      CHECK(t.body() == canonical_dump(j));
      CHECK(x.signed_body() == canonical_dump(j));
    }
  };
  same(r);
  r.argv = {"/bin/echo", "\"sig\":", ",\"signal\":0", std::string("\xff\xfe", 2), ""};
  r.detail = "a \"sig\" inside, and } and {";
  r.sandbox = nlohmann::json{{"sig", "nested"}, {"a", nlohmann::json::array({1, "two"})}, {"zz", {{"sig", 1}}}};
  same(r);
  r.version = 2;  // no peer fields: other keys after "sig"
  same(r);
  Receipt denied = make_denied(subject(), Decision::deny(DenyReason::Replay, "spent", "max_uses", "1"));
  same(denied);

  // text() writes the members itself: every byte value in every string
  // field, UTF-8 and broken UTF-8, the integers' extremes, empty lists,
  // each version and kind, against nlohmann's dump of to_json().
  std::vector<std::string> strings = {
      "",         "plain",       "\x7f",          "tab\there",        "nl\n",
      "quote\"",  "back\\slash", "\u00e9t\u00e9", "\xf0\x9f\x98\x80", std::string("nul\0in", 6),
      "\xc0\xaf", "\x80",        "\xe2\x82",      "\xed\xa0\x80",     "\xf4\x90\x80\x80"};
  for (int b = 0; b < 256; ++b) strings.push_back(std::string(1, static_cast<char>(b)) + "x");
  for (int version = kReceiptVersionOldest; version <= kReceiptVersionCurrent; ++version)
    for (size_t i = 0; i < strings.size(); ++i) {
      Receipt x = first_authorized();
      x.version = version;
      const std::string& v = strings[i];
      const std::string& w = strings[(i * 7 + 3) % strings.size()];
      x.decision = static_cast<ReceiptKind>(i % 5);
      x.id = v, x.time = w, x.prev = v, x.key_id = w, x.reason = v, x.detail = w, x.authorized_id = v;
      x.parent = w, x.artifact_id = v, x.artifact_digest = w, x.issuer = v, x.host = w, x.exe_path = v;
      x.exe_digest = w, x.cwd = v;
      x.argv = {v, w, v + w};
      x.signers = i % 3 == 0 ? std::vector<std::string>{} : std::vector<std::string>{w};
      x.lineage = i % 2 == 0 ? std::vector<std::string>{} : std::vector<std::string>{v, w};
      x.sandbox = i % 4 == 0 ? nlohmann::json::object() : nlohmann::json{{"k", v}};
      const int64_t extremes[] = {0, -1, 1, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()};
      const int64_t n = extremes[i % 5];
      x.seq = i % 2 == 0 ? std::numeric_limits<uint64_t>::max() : static_cast<uint64_t>(i);
      x.uid = n, x.pid = ~n, x.child_pid = n, x.exit_code = -1, x.signal = n, x.wall_us = n;
      x.user_cpu_us = n, x.sys_cpu_us = -1, x.max_rss_kb = n, x.descendants_killed = n;
      x.brokered = i % 2 == 1, x.peer_uid = n, x.peer_gid = -1, x.peer_pid = n;
      INFO("version " << version << ", string " << i);
      same(x);
    }
}

TEST_CASE("canonical_dump_recurring: the kept text only for the very same JSON") {
  using nlohmann::json;
  // Values nlohmann's == calls equal but which dump differently, each after
  // the other: every one must get its own dump, never the kept one.
  const json values[] = {json{{"a", 1}}, json{{"a", 1.0}}, json{{"a", 1u}}, json{{"a", 0.0}}, json{{"a", -0.0}},
                         json{{"a", json::array({1, 2})}}, json{{"a", json::array({1, 2})}, {"b", nullptr}},
                         json{{"a", json::array({2, 1})}}, json{{"a", "x"}}, json{{"b", "x"}}, json{{"a", "x"}},
                         json::object(), json{{"a", {{"nested", true}}}}, json{{"a", {{"nested", false}}}},
                         // Inside arrays and nested objects too.
                         json{{"a", json::array({1})}}, json{{"a", json::array({1.0})}},
                         json{{"a", json::array({0.0})}}, json{{"a", json::array({-0.0})}}, json{{"x", {{"a", 1}}}},
                         json{{"x", {{"a", 1.0}}}}, json{{"x", {{"a", 1u}}}},
                         // Invalid UTF-8 (replaced in the dump) in a value and in a key.
                         json{{"s", std::string("\xff", 1)}}, json{{"s", std::string("\xfe", 1)}},
                         json{{std::string("k\xff", 2), 1}}, json{{std::string("k\xfe", 2), 1}}};
  // Each value twice in a row (the second lookup may be answered from the
  // memo), and every value after one nlohmann's == calls equal to it.
  for (int round = 0; round < 2; ++round)
    for (const auto& v : values) {
      CHECK(canonical_dump_recurring(v) == canonical_dump(v));
      CHECK(canonical_dump_recurring(v) == canonical_dump(v));
    }
}

TEST_CASE("canonical_dump_recurring: threads serializing different values each get their own") {
  using nlohmann::json;
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([t, &wrong] {
      for (int i = 0; i < 2000; ++i) {
        const json v = (i + t) % 2 ? json{{"n", t}, {"f", 1.0 * t}} : json{{"n", t}, {"f", t}};
        if (canonical_dump_recurring(v) != canonical_dump(v)) ++wrong;
      }
    });
  for (auto& th : threads) th.join();
  CHECK(wrong == 0);
}

TEST_CASE("Receipt::text: a recurring sandbox summary, and one changed in place, serialize exactly") {
  Receipt r = first_authorized();
  r.sandbox = nlohmann::json{{"landlock", {{"notes", nlohmann::json::array({"reused"})}, {"abi", 7}}},
                             {"seccomp", {{"allowed_count", 158}}}};
  for (int i = 0; i < 3; ++i) {
    nlohmann::json j = r.to_json();
    CHECK(r.line() == canonical_dump(j));
    j.erase("sig");
    CHECK(r.signed_body() == canonical_dump(j));
    // The same shape, one value changed: the next line must show it.
    r.sandbox["seccomp"]["allowed_count"] = 158 + i + 1;
  }
  CHECK(r.line().find("\"allowed_count\":161") != std::string::npos);
  r.sandbox = nlohmann::json::object();
  CHECK(r.line() == canonical_dump(r.to_json()));
}

TEST_CASE("Receipt::text: what a verifier makes of the line is the signed body, whatever the summary holds") {
  // receipt_verify.cc parses the line, erases "sig" and dumps the rest.
  auto verifier_body = [](const std::string& line) {
    nlohmann::json j = parse_receipt_line(line);
    REQUIRE_FALSE(j.is_discarded());
    j.erase("sig");
    return canonical_dump(j);
  };
  for (int version : {1, 2, 3}) {
    INFO("version " << version);
    Receipt r = first_authorized();
    r.version = version;
    if (version < 3) r.brokered = false, r.peer_uid = -1, r.peer_gid = -1, r.peer_pid = 0, r.lineage.clear();
    r.sig = "MEUCIQD+/==";
    r.sandbox = nlohmann::json{{"f", 1.5},
                               {"neg_zero", -0.0},
                               {"nan", std::nan("")},
                               {"big", 18446744073709551615u},
                               {"bad", std::string("\xff\xfe", 2)},
                               {std::string("key\xff", 4), nlohmann::json::array({-1, 0.25, nullptr})}};
    for (int i = 0; i < 2; ++i) {  // the second time with the summary kept
      CHECK(verifier_body(r.line()) == r.signed_body());
      CHECK(r.text().body() == r.signed_body());
    }
  }
  // A summary past kReceiptMaxSandboxBytes is cut to its digest, then serialized as usual.
  Receipt big = first_authorized();
  big.sandbox = nlohmann::json{{"blob", std::string(kReceiptMaxSandboxBytes + 10, 'x')}};
  big.bound_fields();
  CHECK(big.sandbox.contains("cut"));
  CHECK(verifier_body(big.line()) == big.signed_body());
}

TEST_CASE("receipt times round-trip in UTC") {
  CHECK(format_receipt_time(0) == "1970-01-01T00:00:00.000000Z");
  CHECK(parse_receipt_time("2026-11-29T21:16:50Z") == int64_t{1795987010} * 1000000);
  int64_t now = now_unix_us();
  CHECK(parse_receipt_time(format_receipt_time(now)) == now);
  CHECK_FALSE(parse_receipt_time("2026-11-29T21:16:50"));
  CHECK_FALSE(parse_receipt_time("2026-11-29 21:16:50Z"));
  CHECK_FALSE(parse_receipt_time("2026-11-29T21:16:50+01:00"));
}
