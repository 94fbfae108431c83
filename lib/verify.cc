#include "lib/verify.h"

#include <set>

#include "lib/crypto.h"
#include "lib/fsutil.h"
#include "lib/toml_reader.h"

namespace gx {

Decision check_bindings(const Bindings& b, const HostIdentity& host) {
  if (b.uid && *b.uid != host.uid)
    return Decision::deny(DenyReason::RuntimeIdentity,
                          "artifact is bound to uid " + std::to_string(*b.uid) + ", caller is uid " + std::to_string(host.uid),
                          "bindings.uid", std::to_string(host.uid));
  if (b.hostname && *b.hostname != host.hostname)
    return Decision::deny(DenyReason::RuntimeIdentity,
                          "artifact is bound to host '" + *b.hostname + "', this host is '" + host.hostname + "'",
                          "bindings.hostname", host.hostname);
  if (b.machine_id && (host.machine_id.empty() || *b.machine_id != host.machine_id))
    return Decision::deny(DenyReason::RuntimeIdentity,
                          "artifact is bound to machine-id " + *b.machine_id + ", this machine is '" + host.machine_id + "'",
                          "bindings.machine_id", host.machine_id);
  return Decision::allow();
}

Verification verify_artifact_bytes(std::string_view bytes, const VerifyOptions& opts) {
  Verification v;
  v.threshold = opts.trust ? opts.trust->threshold : 0;
  auto deny = [&](Decision d) {
    v.decision = std::move(d);
    return v;
  };
  if (!opts.trust) return deny(Decision::deny(DenyReason::TrustStoreInvalid, "no trust store"));
  if (bytes.size() > kArtifactMaxBytes)
    return deny(Decision::deny(DenyReason::TooLarge, "artifact is larger than " + std::to_string(kArtifactMaxBytes) + " bytes"));
  if (Decision d = check_text(bytes, "artifact"); !d) return deny(d);
  auto parts = split_artifact(bytes);
  if (!parts) return deny(parts.error());
  v.digest = "sha256:" + crypto::sha256_hex(parts->body);
  auto sigs = parse_signatures(parts->signature_block);
  if (!sigs) return deny(sigs.error());
  if (sigs->empty())
    return deny(Decision::deny(DenyReason::MissingAuthorization, "artifact carries no signature (sign it with gx sign)"));

  std::set<std::string> counted_keys;  // DER of distinct public keys
  Decision why_not;                    // the most telling reason a signature did not count
  auto note = [&](const std::string& key_id, const std::string& reason, Decision d) {
    v.ignored.push_back(key_id + " (" + reason + ")");
    if (why_not.allowed() || why_not.reason == DenyReason::UntrustedKey) why_not = std::move(d);
  };
  for (const auto& sig : *sigs) {
    const TrustedKey* tk = opts.trust->find(sig.key_id);
    if (!tk) {
      note(sig.key_id, "untrusted", Decision::deny(DenyReason::UntrustedKey, "signed by " + sig.key_id + ", which is not in the trust store",
                                                  "signature.key_id", sig.key_id));
      continue;
    }
    if (auto st = tk->key.check(crypto::kArtifactType, parts->body, sig.value); st != crypto::SigStatus::Ok)
      return deny(Decision::deny(DenyReason::InvalidSignature,
                                 "signature by " + tk->name + " (" + sig.key_id + ") " +
                                     (st == crypto::SigStatus::Mismatch ? std::string("does not verify: the artifact was altered")
                                                                        : "is refused: " + std::string(crypto::sig_status_text(st))),
                                 "signature.value", sig.key_id));
    if (tk->revoked) {
      note(sig.key_id, "revoked in trust store",
           Decision::deny(DenyReason::KeyRevoked, "key of " + tk->name + " (" + sig.key_id + ") is revoked in the trust store",
                          "signature.key_id", sig.key_id));
      continue;
    }
    if (opts.key_revoked && opts.key_revoked(sig.key_id)) {
      note(sig.key_id, "revoked",
           Decision::deny(DenyReason::Revoked, "key of " + tk->name + " (" + sig.key_id + ") is revoked by the revocation list",
                          "signature.key_id", sig.key_id));
      continue;
    }
    if ((tk->not_before && opts.now + opts.skew_seconds < *tk->not_before) ||
        (tk->not_after && opts.now - opts.skew_seconds > *tk->not_after)) {
      note(sig.key_id, "outside key validity",
           Decision::deny(DenyReason::KeyExpired, "key of " + tk->name + " (" + sig.key_id + ") is outside its validity window",
                          "signature.key_id", sig.key_id));
      continue;
    }
    // Distinct public keys only: the same key listed twice counts once.
    if (counted_keys.insert(tk->key.der()).second) {
      v.signers.push_back(tk->key_id);
      v.signer_names.push_back(tk->name);
    } else {
      v.ignored.push_back(sig.key_id + " (duplicate)");
    }
  }
  if (static_cast<int>(counted_keys.size()) < opts.trust->threshold) {
    if (counted_keys.empty() && !why_not.allowed()) return deny(why_not);
    return deny(Decision::deny(DenyReason::ThresholdNotMet,
                               std::to_string(counted_keys.size()) + " distinct trusted signature(s), " +
                                   std::to_string(opts.trust->threshold) + " required",
                               "signature", std::to_string(counted_keys.size())));
  }

  auto artifact = parse_artifact_body(parts->body);
  if (!artifact) return deny(artifact.error());
  artifact->signatures = sigs.take();
  v.artifact = artifact.take();
  const Artifact& a = *v.artifact;

  if (opts.now + opts.skew_seconds < a.not_before)
    return deny(Decision::deny(DenyReason::NotYetValid, "artifact is not valid before " + format_utc(a.not_before),
                               "not_before", format_utc(a.not_before)));
  if (opts.now - opts.skew_seconds > a.not_after)
    return deny(Decision::deny(DenyReason::Expired, "artifact expired at " + format_utc(a.not_after), "not_after",
                               format_utc(a.not_after)));
  if (opts.artifact_revoked && opts.artifact_revoked(v.digest))
    return deny(Decision::deny(DenyReason::Revoked, "artifact " + v.digest + " is revoked", "digest", v.digest));
  // Revoking a parent revokes what was derived from it (Biscuit-style).
  if (!a.parent.empty() && opts.artifact_revoked && opts.artifact_revoked(a.parent))
    return deny(Decision::deny(DenyReason::Revoked, "parent artifact " + a.parent + " is revoked", "lineage.parent",
                               a.parent));
  if (opts.host)
    if (Decision d = check_bindings(a.bindings, *opts.host); !d) return deny(d);
  v.decision = Decision::allow();
  return v;
}

Verification verify_artifact_file(const std::string& path, const VerifyOptions& opts) {
  auto bytes = fs::read_file(path, kArtifactMaxBytes);
  if (!bytes) {
    Verification v;
    v.decision = bytes.error();
    if (v.decision.reason == DenyReason::IoError && !fs::exists(path)) {
      v.decision.reason = DenyReason::MissingAuthorization;
      v.decision.detail = "no artifact at " + path;
    }
    return v;
  }
  return verify_artifact_bytes(*bytes, opts);
}

}  // namespace gx
