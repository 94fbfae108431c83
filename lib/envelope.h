// The signed envelope shared by artifacts and revocation lists, and the one
// quorum rule both use.
//
// On disk a signed file is TOML in two parts:
//
//   <body>                  every byte up to the first line that is exactly
//                           "[[signature]]": signed verbatim, comments included
//   [[signature]]           zero or more signature tables, each with exactly
//   key_id = "sha256:..."   key_id, algorithm and value (base64 DER ECDSA)
//   algorithm = "ecdsa-p256-sha256"
//   value = "..."
//
// A signature covers PAE(type, body) (crypto::pae): the type separates an
// artifact signature from a revocation-list signature. The body is never
// re-serialised; signatures are checked on these bytes before the body is
// parsed.
//
// verify_quorum() is the ONLY place that decides whether a set of
// signatures is "enough": every signed input (artifact, revocation list)
// goes through it, so key usability (TrustedKey::usable_at, with the trust
// store's skew) and distinct-key counting are the same everywhere.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/clock.h"
#include "lib/crypto.h"
#include "lib/decision.h"

namespace gx {

class SignatureCache;  // lib/signature_cache.h

struct TrustStore;
struct TrustedKey;

inline constexpr std::string_view kSignatureHeader = "[[signature]]";
inline constexpr size_t kMaxSignatures = 32;

struct Signature {
  std::string key_id;     // "sha256:<hex>" — a hint, never trusted by itself
  std::string algorithm;  // must be crypto::kAlgorithm
  std::string value;      // raw DER bytes (base64 on disk)
};

// File bytes split into the signed body and the signature block text.
struct ArtifactParts {
  std::string body;
  std::string signature_block;  // starts with "[[signature]]" or is empty
};
Result<ArtifactParts> split_artifact(std::string_view file_bytes);
// The same, taking the bytes over: the body is the file's own buffer, not a
// copy (a large revocation list is not held twice).
Result<ArtifactParts> split_artifact_buffer(std::string&& file_bytes);

// Strictly parses the signature block (pinned algorithm, canonical base64,
// at most kMaxSignatures).
Result<std::vector<Signature>> parse_signatures(std::string_view block);
std::string render_signature(const Signature& s);

// Returns file_bytes with one more signature by `key` over PAE(type, body).
// Refuses (DuplicateField) when the key has already signed, and re-verifies
// the new signature before returning. The body is not altered by a single
// byte; a body without a trailing newline gets one ONLY when unsigned
// (after the first signature the body is frozen).
Result<std::string> append_signature(std::string_view file_bytes, std::string_view type, const crypto::PrivateKey& key);

// What verify_quorum() found.
struct Quorum {
  // Allowed when at least max(trust.threshold, 1) distinct public keys count.
  // Otherwise ThresholdNotMet, or, when nothing counted, the most telling
  // reason one signature did not (untrusted, revoked, outside validity).
  // InvalidSignature when a trusted key's signature does not verify.
  Decision decision;
  std::vector<const TrustedKey*> signers;  // counted, in signature order (point into `trust`)
  std::vector<std::string> ignored;        // "<key id> (<why>)" for signatures that did not count
  std::vector<std::string> verified;       // key ids whose signature was checked and verified
};

struct QuorumOptions {
  // Extra revocation of signing keys (a revocation list's key entries); optional.
  std::function<bool(const std::string&)> key_revoked;
  // When set, signatures are NOT checked cryptographically: a signature by a
  // trusted, usable key counts only if its key id is listed here (it was
  // verified over these same body bytes earlier, e.g. when the revocation
  // index was built); one that is not listed denies (InvalidSignature).
  const std::vector<std::string>* preverified = nullptr;
  // When set (and preverified is not), a signature this cache has seen pass
  // a full verification over these exact bytes is not verified again, and
  // one that passes now is recorded (lib/signature_cache.h). Trust,
  // validity, revocation and the threshold are decided as without it.
  const SignatureCache* signature_cache = nullptr;
};

// The quorum rule, for artifacts and revocation lists alike:
//   - a signature's key_id only selects a trusted key; unknown ids count for
//     nothing (reported in `ignored`);
//   - a trusted key's signature over PAE(type, body) must verify; one that
//     does not denies outright (the body was altered after it signed);
//   - keys revoked in the trust store or by opts.key_revoked, and keys
//     outside their validity window at `now` widened by trust.skew_seconds
//     (TrustedKey::usable_at), count for nothing;
//   - distinct public keys are counted: the same key twice counts once;
//   - at least max(trust.threshold, 1) are required.
Quorum verify_quorum(std::string_view type, std::string_view body, const std::vector<Signature>& signatures,
                     const TrustStore& trust, UnixTime now, const QuorumOptions& opts = {});

}  // namespace gx
