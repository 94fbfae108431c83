// The trust store: the approver keys this machine trusts, and how many
// distinct trusted signatures an artifact needs (format: man/gx-trust.5).
//
//   version = 1
//   threshold = 1
//   skew_seconds = 60                   # optional; clock-skew tolerance, 0..3600
//   [[key]]
//   name = "alice"                      # principal
//   id = "sha256:..."                   # must equal the digest of public_key
//   public_key = """-----BEGIN PUBLIC KEY----- ..."""
//   not_before = "2026-01-01T00:00:00Z" # optional
//   not_after  = "2027-01-01T00:00:00Z" # optional
//   revoked = false                     # optional; a revoked key counts for nothing
//
// Parsing is as strict as for artifacts. A key appears at most once.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lib/artifact.h"
#include "lib/crypto.h"
#include "lib/decision.h"

namespace gx {

inline constexpr int kTrustStoreVersionOldest = 1;
inline constexpr int kTrustStoreVersionCurrent = 1;
inline constexpr size_t kTrustStoreMaxBytes = 1024 * 1024;

inline constexpr int64_t kDefaultSkewSeconds = 60;

struct TrustedKey {
  std::string name;
  crypto::PublicKey key;
  std::string key_id;  // == key.key_id()
  std::optional<UnixTime> not_before;
  std::optional<UnixTime> not_after;
  bool revoked = false;

  // The one answer to "may this key count now?" (artifacts, revocation
  // lists, gx revoke): allowed unless revoked here (KeyRevoked) or `now` is
  // outside [not_before - skew, not_after + skew] (KeyExpired). The bounds
  // themselves are inside. skew is the trust store's skew_seconds.
  Decision usable_at(UnixTime now, int64_t skew_seconds) const;
};

struct TrustStore {
  int threshold = 1;
  // Clock-skew tolerance on both ends of every validity window. It lives
  // here, with the administrator, not in a caller's flag: a caller who could
  // raise it could run an expired artifact.
  int64_t skew_seconds = kDefaultSkewSeconds;
  std::vector<TrustedKey> keys;

  const TrustedKey* find(std::string_view key_id) const;

  // A missing file is an error (TrustStoreInvalid) for verification;
  // load_or_empty() is for the commands that create it. Both refuse a file
  // that is not regular (a FIFO does not hang them) or fails
  // fs::check_strict_modes (owner root or the caller, not group/other
  // writable, likewise every directory above it): TrustStoreInvalid.
  static Result<TrustStore> load(const std::string& path);
  static Result<TrustStore> load_or_empty(const std::string& path);
  static Result<TrustStore> parse(std::string_view text, const std::string& origin);
  std::string render() const;
  Decision save(const std::string& path) const;  // atomic, 0644, creates the directory
};

}  // namespace gx
