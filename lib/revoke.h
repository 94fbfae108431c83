// gx revoke's transaction on a signed revocation list (lib/revocation.h).
#pragma once

#include <string>
#include <vector>

#include "lib/crypto.h"
#include "lib/decision.h"
#include "lib/revocation.h"
#include "lib/trust_store.h"

namespace gx {

// Under an exclusive lock on the list's directory (concurrent revokes
// serialise): every signing key must be trusted and usable now
// (TrustedKey::usable_at, with skew; Usage otherwise, naming the key), and
// none may be the key being revoked; then load (verified, rollback-checked)
// -> successor with `entry` -> sign with each distinct key -> verify as
// every run will -> write atomically (0644) -> raise the rollback record.
// Already revoked: the current list, unchanged, with already_revoked set.
struct RevokeResult {
  RevocationList list;
  bool already_revoked = false;
};
Result<RevokeResult> add_revocation(const std::string& list_path, const TrustStore& trust, const std::string& state_dir,
                                    const std::vector<crypto::PrivateKey>& keys, const RevocationEntry& entry,
                                    UnixTime now);

}  // namespace gx
