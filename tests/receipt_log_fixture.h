// Shared by the receipt log's unit tests (receipt_log_test, receipt_verify_test,
// receipt_scan_test): a scratch state directory, file helpers and small logs.
#pragma once

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "lib/receipt.h"
#include "lib/receipt_log.h"

namespace gx::receipt_log_test {

namespace stdfs = std::filesystem;

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/gx-receipt-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    stdfs::remove_all(path, ec);
  }
  std::string state() const { return path + "/state"; }
  std::string log() const { return state() + "/receipts.log"; }
};

inline std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void spit(const std::string& p, const std::string& data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << data;
}

inline std::vector<std::string> lines_of(const std::string& data) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : data) {
    cur += c;
    if (c == '\n') {
      out.push_back(cur);
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

inline std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s;
  return out;
}

inline Receipt subject(const std::string& arg = "hello") {
  Receipt r = receipt_for_this_process();
  r.artifact_id = "a1b2c3d4e5f6";
  r.artifact_digest = "sha256:" + std::string(64, 'a');
  r.signers = {"sha256:" + std::string(64, 'b')};
  r.issuer = "ops";
  r.argv = {"/bin/echo", arg};
  r.exe_path = "/bin/echo";
  r.exe_digest = std::string(64, 'c');
  r.sandbox = {{"landlock_abi", 7}, {"seccomp", "default"}};
  return r;
}

// An authorized receipt of subject() as the log's first line would have it
// (seq 1, an id, a time, the genesis hash), unsigned.
inline Receipt first_authorized() {
  Receipt r = make_authorized(subject());
  r.seq = 1;
  r.id = std::string(32, 'f');
  r.time = "2026-11-29T21:16:50.123456Z";
  r.prev = std::string(kGenesisHash);
  return r;
}

inline ReceiptLog open_log(const TempDir& t, ReceiptLogOptions o = {}) {
  auto log = ReceiptLog::open(t.state(), o);
  REQUIRE(log.ok());
  return log.take();
}

inline VerifyReport verify_ok(const ReceiptLog& log, const std::optional<Checkpoint>& cp = std::nullopt) {
  auto rep = log.verify(cp);
  REQUIRE(rep.ok());
  return *rep;
}

// Three receipts, one of each caller kind; small so byte loops stay cheap.
inline void fill_small(ReceiptLog& log) {
  auto a = log.append(make_authorized(subject()));
  REQUIRE(a.ok());
  REQUIRE(log.append(make_finished(subject(), a->id, RunOutcome{42, 0, 0, 1500, 700, 300, 2048})).ok());
  REQUIRE(log.append(make_denied(subject("x"), Decision::deny(DenyReason::PolicyMismatch, "argv differs"))).ok());
}

}  // namespace gx::receipt_log_test
