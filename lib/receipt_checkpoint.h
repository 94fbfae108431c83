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

inline constexpr int kCheckpointVersion = 1;
inline constexpr size_t kCheckpointMaxBytes = 64 * 1024;

// A signed statement of the log's head, to keep somewhere else.
// Signed bytes: canonical_dump() of to_json() without "sig", under
// PAE(crypto::kCheckpointType, ...).
struct Checkpoint {
  int version = kCheckpointVersion;
  std::string origin;  // host name of the log
  uint64_t count = 0;  // number of receipts covered
  std::string head;    // leaf hash of receipt `count` (kGenesisHash when 0)
  std::string time;    // when it was made (receipt time format)
  std::string key_id;  // receipt key that signed it
  std::string sig;     // base64 DER

  nlohmann::json to_json() const;
  std::string text() const;  // canonical JSON + "\n": what `gx log checkpoint` writes
  std::string signed_body() const;
  // Strict parse (every field, no other, known version); no signature check.
  static Result<Checkpoint> parse(std::string_view text);
  bool signature_valid(const crypto::PublicKey& key) const;
};

}  // namespace gx
