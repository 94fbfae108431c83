// Everything a verification is checked against, loaded once per request:
// the trust store, the revocation list (signature- and rollback-checked,
// which records its serial in the state directory), this host's identity
// and one fixed "now". Shared by gx verify and gx run so both decide alike.
#pragma once

#include <optional>
#include <string>

#include "lib/decision.h"
#include "lib/host.h"
#include "lib/landlock.h"
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
  // The skew tolerance is the trust store's.
  VerifyOptions options() const;
};

// The same options over state kept elsewhere (a broker's preloaded trust
// store and revocation list, lib/broker_state.h). Keep all four alive while
// verifying.
VerifyOptions verify_options(const TrustStore& trust, const RevocationList& revocations, const HostIdentity& host,
                             UnixTime now);

// Adds every symbolic link on the way to `path` (fs::links_on_path) to
// p.no_rename, each once.
void add_links(ProtectedPaths& p, const std::string& path);

// gx's own files, which no governed child may write (state directory with
// its log and use store, the trust store's and revocation list's
// directories -- of the names given and of every file a symlink chain from
// them reaches, fs::symlink_hops -- the gx binary) or even read (receipt
// private keys), and the entries of the symbolic links on the way to any
// of them, which no child may replace (no_rename).
ProtectedPaths own_files(const std::string& state_dir, const std::string& trust_path,
                         const std::string& revocations_path, const std::string& receipt_key);

// `host`: the caller's HostIdentity::current() when it already has one
// (read once per run); read here otherwise.
Result<Authority> load_authority(const std::string& trust_path, const std::string& revocations_path,
                                 const std::string& state_dir, UnixTime now,
                                 std::optional<HostIdentity> host = std::nullopt);

}  // namespace gx
