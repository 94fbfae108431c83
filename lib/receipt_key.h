// The host's receipt key: an ECDSA P-256 key that signs receipts and
// checkpoints (lib/receipt_log.h).
//
// Default location: <state dir>/receipt.key (private, 0600) and
// <state dir>/receipt.pub (public, 0644), created on first use. A configured
// key (`--receipt-key FILE`) is used as is and never created.
//
// Security caveats: anyone who can read receipt.key can forge receipts and
// rewrite the whole log, so the key must stay private to the gx user (root
// on a multi-user host); keys readable by group or others, not owned by the
// caller, or reached through a symlink are refused. A new key (someone
// deleted receipt.key) starts signing with a different key id: verify then
// fails at the first receipt of the new key — by design, old entries are
// never re-signed (journald CVE-2023-31439).
#pragma once

#include <string>

#include "lib/crypto.h"
#include "lib/decision.h"

namespace gx {

inline constexpr std::string_view kReceiptKeyFile = "receipt.key";
inline constexpr std::string_view kReceiptPubFile = "receipt.pub";

// Loads key_path when given (must exist); otherwise loads
// <state_dir>/receipt.key, creating it (and receipt.pub) when absent. Safe
// against concurrent first use: one key wins, every caller gets it. Errors
// are LogUnavailable (the caller cannot write receipts: fail closed).
Result<crypto::PrivateKey> load_or_create_receipt_key(const std::string& state_dir, const std::string& key_path = {});

// The public key that verifies the log: pub_path when given, else
// <state_dir>/receipt.pub. Never creates anything.
Result<crypto::PublicKey> load_receipt_public_key(const std::string& state_dir, const std::string& pub_path = {});

}  // namespace gx
