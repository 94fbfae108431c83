// Verification of an artifact: signatures, trust, threshold, time window,
// revocation and bindings. Everything `gx verify` checks and the first
// step of `gx run`.
//
// Order matters and is fixed (docs/design.md):
//   1. bounded read; empty / binary input is refused;
//   2. split body | signature block; parse the signature block strictly;
//      the algorithm is pinned (unsupported-algorithm otherwise);
//   3.-4. the quorum, by verify_quorum() (lib/envelope.h), the same rule as
//      for revocation lists: each signature's key id is only a hint to find
//      a trusted key; the signature is checked over PAE(kArtifactType, body)
//      with that full key. A trusted key whose signature does not verify
//      denies outright (invalid-signature). Unknown key ids are ignored but
//      reported. Revoked, expired and not-yet-valid keys (with the trust
//      store's skew: TrustedKey::usable_at) count for nothing; the
//      threshold counts DISTINCT public keys;
//   5. only then is the body parsed (strictly);
//   6. time window against one `now` fixed by the caller, never by the
//      artifact, with a skew tolerance on both ends;
//   7. revocation of the artifact's digest, and of its lineage parent's;
//   8. host/user bindings.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "lib/artifact.h"
#include "lib/decision.h"
#include "lib/host.h"
#include "lib/trust_store.h"

namespace gx {

class SignatureCache;  // lib/signature_cache.h

struct VerifyOptions {
  UnixTime now = 0;
  // required; its skew_seconds widens every validity window (keys and artifact)
  const TrustStore* trust = nullptr;
  std::function<bool(const std::string&)> key_revoked;       // by key id; optional
  std::function<bool(const std::string&)> artifact_revoked;  // by artifact digest; optional
  const HostIdentity* host = nullptr;                        // check bindings when set
  const SignatureCache* signature_cache = nullptr;           // optional (QuorumOptions)
  // optional: bodies parsed before in this process (a broker worker's);
  // a body is looked up exactly where it would otherwise be parsed
  ArtifactParseMemo* parse_memo = nullptr;
};

struct Verification {
  Decision decision;
  std::string digest;                     // "sha256:..." of the body, once split
  std::optional<Artifact> artifact;       // parsed body, only once signatures verified
  std::vector<std::string> signers;       // key ids that counted toward the threshold
  std::vector<std::string> signer_names;  // their principals
  std::vector<std::string> ignored;       // key ids present but not counted, with why
  int threshold = 0;
};

Verification verify_artifact_bytes(std::string_view bytes, const VerifyOptions& opts);
// The same checks, for a caller that has already parsed these bytes' body
// (parse_artifact_body(split_artifact(bytes)->body), as lineage's walk does
// to find a parent): `parsed_body` stands in for parsing it again, after the
// signatures verified, exactly where the one-argument form parses. It must
// come from these very bytes; nothing here can check that cheaply.
Verification verify_artifact_bytes(std::string_view bytes, const VerifyOptions& opts, Artifact&& parsed_body);
Verification verify_artifact_file(const std::string& path, const VerifyOptions& opts);

// Bindings alone (also used by gx run after verification).
Decision check_bindings(const Bindings& b, const HostIdentity& host);

}  // namespace gx
