// Checkpoint: a signed statement of the receipt log's head, to keep
// somewhere else (`gx log checkpoint`; ReceiptLog::checkpoint makes one,
// verify_receipt_log checks the log against one: lib/receipt_log.h).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "lib/crypto.h"
#include "lib/decision.h"

namespace gx {

inline constexpr int kCheckpointVersion = 2;        // written
inline constexpr int kCheckpointVersionOldest = 1;  // still read
inline constexpr size_t kCheckpointMaxBytes = 64 * 1024;

// A signed statement of the log's head, to keep somewhere else.
// Signed bytes: canonical_dump() of to_json() without "sig", under
// PAE(crypto::kCheckpointType, ...).
//
// Versions: 2 (written) adds `offset`, the byte offset just past receipt
// `count`'s line: incremental verification starts reading exactly there, so
// nothing inserted after that receipt can go unread. Version 1 (no
// `offset`; written by earlier gx) is still read and verified; incremental
// verification from it reads the whole log (lib/receipt_verify.h).
struct Checkpoint {
  int version = kCheckpointVersion;
  std::string origin;   // host name of the log
  uint64_t count = 0;   // number of receipts covered
  std::string head;     // leaf hash of receipt `count` (kGenesisHash when 0)
  uint64_t offset = 0;  // version 2: where receipt `count`'s line ends (past its "\n"; 0 when count is 0)
  std::string time;     // when it was made (receipt time format)
  std::string key_id;   // receipt key that signed it
  std::string sig;      // base64 DER

  nlohmann::json to_json() const;
  std::string text() const;  // canonical JSON + "\n": what `gx log checkpoint` writes
  std::string signed_body() const;
  // Strict parse (every field of its version, no other, a known version);
  // no signature check.
  static Result<Checkpoint> parse(std::string_view text);
  bool signature_valid(const crypto::PublicKey& key) const;
};

}  // namespace gx
