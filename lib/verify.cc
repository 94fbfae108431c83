#include "lib/verify.h"

#include "lib/crypto.h"
#include "lib/envelope.h"
#include "lib/fsutil.h"
#include "lib/toml_reader.h"

namespace gx {

Decision check_bindings(const Bindings& b, const HostIdentity& host) {
  // Bindings are worth nothing where the caller picks the identity: refuse
  // unless gx runs in the initial user namespace (lib/host.h).
  if ((b.uid || b.hostname || b.machine_id) && !host.initial_user_ns) {
    const char* field = b.hostname ? "bindings.hostname" : b.machine_id ? "bindings.machine_id" : "bindings.uid";
    return Decision::deny(DenyReason::RuntimeIdentity,
                          "gx runs in a user namespace other than the host's (" + host.user_ns_detail +
                              "), where host name, machine-id and uid are the caller's choice; an artifact "
                              "with bindings cannot be checked here",
                          field, host.user_ns_detail);
  }
  if (b.uid && *b.uid != host.uid)
    return Decision::deny(
        DenyReason::RuntimeIdentity,
        "artifact is bound to uid " + std::to_string(*b.uid) + ", caller is uid " + std::to_string(host.uid),
        "bindings.uid", std::to_string(host.uid));
  if (b.hostname && *b.hostname != host.hostname)
    return Decision::deny(DenyReason::RuntimeIdentity,
                          "artifact is bound to host '" + *b.hostname + "', this host is '" + host.hostname + "'",
                          "bindings.hostname", host.hostname);
  if (b.machine_id && (host.machine_id.empty() || *b.machine_id != host.machine_id))
    return Decision::deny(
        DenyReason::RuntimeIdentity,
        "artifact is bound to machine-id " + *b.machine_id + ", this machine is '" + host.machine_id + "'",
        "bindings.machine_id", host.machine_id);
  return Decision::allow();
}

namespace {

Verification verify_bytes(std::string_view bytes, const VerifyOptions& opts, std::optional<Artifact> parsed_body) {
  Verification v;
  v.threshold = opts.trust ? opts.trust->threshold : 0;
  auto deny = [&](Decision d) {
    v.decision = std::move(d);
    return v;
  };
  if (!opts.trust) return deny(Decision::deny(DenyReason::TrustStoreInvalid, "no trust store"));
  if (bytes.size() > kArtifactMaxBytes)
    return deny(Decision::deny(DenyReason::TooLarge,
                               "artifact is larger than " + std::to_string(kArtifactMaxBytes) + " bytes"));
  if (Decision d = check_text(bytes, "artifact"); !d) return deny(d);
  auto parts = split_artifact(bytes);
  if (!parts) return deny(parts.error());
  v.digest = "sha256:" + crypto::sha256_hex(parts->body);
  auto sigs =
      opts.parse_memo ? opts.parse_memo->signatures(parts->signature_block) : parse_signatures(parts->signature_block);
  if (!sigs) return deny(sigs.error());
  if (sigs->empty())
    return deny(
        Decision::deny(DenyReason::MissingAuthorization, "artifact carries no signature (sign it with gx sign)"));

  QuorumOptions qo;
  qo.key_revoked = opts.key_revoked;
  qo.signature_cache = opts.signature_cache;
  Quorum q = verify_quorum(crypto::kArtifactType, parts->body, *sigs, *opts.trust, opts.now, qo);
  for (const TrustedKey* k : q.signers) {
    v.signers.push_back(k->key_id);
    v.signer_names.push_back(k->name);
  }
  v.ignored = std::move(q.ignored);
  if (!q.decision) return deny(q.decision);  // signers: what did count, for the report

  if (parsed_body) {
    v.artifact = std::move(parsed_body);
  } else {
    auto artifact = opts.parse_memo ? opts.parse_memo->parse(parts->body) : parse_artifact_body(parts->body);
    if (!artifact) return deny(artifact.error());
    v.artifact = artifact.take();
  }
  v.artifact->signatures = sigs.take();
  const Artifact& a = *v.artifact;

  if (opts.now + opts.trust->skew_seconds < a.not_before)
    return deny(Decision::deny(DenyReason::NotYetValid, "artifact is not valid before " + format_utc(a.not_before),
                               "not_before", format_utc(a.not_before)));
  if (opts.now - opts.trust->skew_seconds > a.not_after)
    return deny(Decision::deny(DenyReason::Expired, "artifact expired at " + format_utc(a.not_after), "not_after",
                               format_utc(a.not_after)));
  if (opts.artifact_revoked && opts.artifact_revoked(v.digest))
    return deny(Decision::deny(DenyReason::Revoked, "artifact " + v.digest + " is revoked", "digest", v.digest));
  // Revoking a parent revokes what was derived from it (Biscuit-style).
  if (!a.parent.empty() && opts.artifact_revoked && opts.artifact_revoked(a.parent))
    return deny(
        Decision::deny(DenyReason::Revoked, "parent artifact " + a.parent + " is revoked", "lineage.parent", a.parent));
  if (opts.host)
    if (Decision d = check_bindings(a.bindings, *opts.host); !d) return deny(d);
  v.decision = Decision::allow();
  return v;
}

}  // namespace

Verification verify_artifact_bytes(std::string_view bytes, const VerifyOptions& opts) {
  return verify_bytes(bytes, opts, std::nullopt);
}

Verification verify_artifact_bytes(std::string_view bytes, const VerifyOptions& opts, Artifact&& parsed_body) {
  return verify_bytes(bytes, opts, std::move(parsed_body));
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
