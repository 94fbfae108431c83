// Signed TOML files (artifacts, revocation lists): body bytes followed by
// [[signature]] tables, as described in lib/artifact.h.
#pragma once

#include <string>
#include <string_view>

#include "lib/crypto.h"
#include "lib/decision.h"

namespace gx {

// Returns file_bytes with one more signature by `key` over PAE(type, body).
// Refuses (DuplicateField) when the key has already signed, and re-verifies
// the new signature before returning. The body is not altered by a single
// byte; a body without a trailing newline gets one ONLY when unsigned
// (after the first signature the body is frozen).
Result<std::string> append_signature(std::string_view file_bytes, std::string_view type, const crypto::PrivateKey& key);

}  // namespace gx
