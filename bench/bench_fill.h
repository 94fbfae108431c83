// Fast set-up shared by the benchmarks: big receipt logs and use stores
// built directly, in seconds instead of hours (one fsync'd, signed append or
// reserve() per record would take that long). The results are valid for
// what is measured (chain head lookup, B-tree size) but NOT for `gx log
// verify`: every record carries the same dummy signature.
#pragma once

#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "lib/crypto.h"
#include "lib/receipt.h"
#include "lib/receipt_log.h"
#include "lib/use_store.h"

namespace gx::bench {

// Writes n chained copies of `typical` (correct seq, ids and hash chain) as
// the state's receipt log, replacing it.
inline bool write_receipts_fast(const std::string& state, uint64_t n, const crypto::PublicKey& key, Receipt r) {
  std::ofstream out(state + "/" + std::string(kReceiptLogFile), std::ios::binary | std::ios::trunc);
  r.key_id = key.key_id();
  r.time = format_receipt_time(now_unix_us());
  r.sig = crypto::base64_encode(std::string(72, '\x30'));
  std::string prev(kGenesisHash), buf;
  char id[33];
  for (uint64_t i = 1; i <= n; ++i) {
    r.seq = i;
    std::snprintf(id, sizeof id, "%032llx", static_cast<unsigned long long>(i));
    r.id = id;
    r.prev = prev;
    std::string line = r.line();
    prev = receipt_leaf_hash(line);
    buf += line;
    buf += '\n';
    if (buf.size() > (8 << 20)) {
      out << buf;
      buf.clear();
    }
  }
  out << buf;
  out.flush();
  if (!out) return false;
  // receipts.head as append() leaves it (lib/receipt_log_file.cc head_text): a
  // log without its head is refused as truncated.
  std::string head = canonical_dump(nlohmann::json{{"version", kReceiptHeadVersion},
                                                   {"count", n},
                                                   {"hash", prev},
                                                   {"offset", static_cast<uint64_t>(out.tellp())},
                                                   {"log_id", crypto::sha256_hex(state).substr(0, 32)}});
  head.resize(255, ' ');
  std::ofstream h(state + "/" + std::string(kReceiptHeadFile), std::ios::binary | std::ios::trunc);
  h << head << '\n';
  return static_cast<bool>(h);
}

// Inserts n spent-use rows through the store's own schema: one transaction,
// sorted keys (random-order inserts into a B-tree bigger than the cache
// spill pages over and over), a large cache; then restores exactly the
// settings UseStore::open() uses, so later timings are a real run's.
inline bool fill_uses_fast(sqlite3* db, uint64_t n) {
  std::vector<std::string> keys;
  keys.reserve(n);
  for (uint64_t i = 0; i < n; ++i) keys.push_back("sha256:" + crypto::sha256_hex("fill" + std::to_string(i)));
  std::sort(keys.begin(), keys.end());
  sqlite3_exec(db, "PRAGMA cache_size = -524288; PRAGMA synchronous = OFF", nullptr, nullptr, nullptr);
  if (sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) return false;
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "INSERT INTO uses (digest, spent, max_uses, not_after) VALUES (?1, 1, 1, ?2)", -1, &st,
                         nullptr) != SQLITE_OK)
    return false;
  for (uint64_t i = 0; i < n; ++i) {
    sqlite3_bind_text(st, 1, keys[i].c_str(), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, 2000000000 + static_cast<int64_t>(i % 1000));
    if (sqlite3_step(st) != SQLITE_DONE) {
      sqlite3_finalize(st);
      return false;
    }
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  bool ok = sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
  return ok && sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA cache_size = -2000; PRAGMA synchronous = FULL",
                            nullptr, nullptr, nullptr) == SQLITE_OK;
}

// The same through a second connection to <state_dir>/uses.db (the store
// must exist: UseStore::open() created the schema). The store keeps its own
// connection private; benchmarks do not need it.
inline bool fill_uses_fast(const std::string& state_dir, uint64_t n) {
  sqlite3* db = nullptr;
  bool ok = sqlite3_open_v2(UseStore::db_path(state_dir).c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK &&
            sqlite3_busy_timeout(db, kUseStoreBusyTimeoutMs) == SQLITE_OK && fill_uses_fast(db, n);
  sqlite3_close(db);
  return ok;
}

}  // namespace gx::bench
