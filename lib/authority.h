// Everything a verification is checked against, loaded once per request:
// the trust store, the revocation list (signature- and rollback-checked,
// which records its serial in the state directory), this host's identity
// and one fixed "now". Shared by gx verify and gx run so both decide alike.
#pragma once

#include <string>

#include "lib/decision.h"
#include "lib/host.h"
#include "lib/revocation.h"
#include "lib/trust_store.h"
#include "lib/verify.h"

namespace gx {

struct Authority {
  TrustStore trust;
  RevocationList revocations;
  HostIdentity host;
  UnixTime now = 0;

  // Options that point into this Authority: keep it alive while verifying.
  VerifyOptions options(int64_t skew_seconds) const;
};

Result<Authority> load_authority(const std::string& trust_path, const std::string& revocations_path,
                                 const std::string& state_dir, UnixTime now);

}  // namespace gx
