#include "lib/revocation.h"

#include "lib/toml_reader.h"

namespace gx {

Decision revocation_list_invalid(const std::string& origin, const Decision& cause) {
  Decision d = cause;
  d.reason = DenyReason::RevocationListInvalid;
  d.detail = "revocation list " + origin + ": " + cause.detail;
  return d;
}

Decision revocation_list_invalid(const std::string& origin, const std::string& detail) {
  return Decision::deny(DenyReason::RevocationListInvalid, "revocation list " + origin + ": " + detail, "revocations",
                        origin);
}

// ---- construction ----

Result<RevocationList> RevocationList::parse_unverified(std::string_view bytes, const std::string& origin) {
  if (bytes.size() > kRevocationsMaxBytes)
    return revocation_list_invalid(origin,
                                   "larger than the limit of " + std::to_string(kRevocationsMaxBytes) + " bytes");
  auto parts = split_artifact(bytes);
  if (!parts) return revocation_list_invalid(origin, parts.error());
  auto sigs = parse_signatures(parts->signature_block);
  if (!sigs) return revocation_list_invalid(origin, sigs.error());
  auto parsed = parse_revocation_body(parts->body, origin);
  if (!parsed) return revocation_list_invalid(origin, parsed.error());
  auto list = from_body(parsed.take(), std::move(parts->body), "", sigs.take());
  if (!list) return revocation_list_invalid(origin, list.error());
  return list;
}

Result<RevocationList> RevocationList::from_body(RevocationBody parsed, std::string body, std::string body_digest,
                                                 std::vector<Signature> sigs) {
  auto set = MemoryRevocationSet::make(std::move(parsed.entries));
  if (!set) return set.error();
  RevocationList list;
  list.version_ = parsed.version;
  list.serial_ = parsed.serial;
  list.issued_at_ = parsed.issued_at;
  list.set_ = set.take();
  list.body_ = std::move(body);
  list.body_digest_ = body_digest.empty() ? "sha256:" + crypto::sha256_hex(list.body_) : std::move(body_digest);
  list.signatures_ = std::move(sigs);
  return list;
}

// ---- verification ----

Result<std::set<std::string>> RevocationList::quorum_signers(std::string_view body, const std::vector<Signature>& sigs,
                                                             const TrustStore& trust, UnixTime now,
                                                             const std::string& origin, const QuorumOptions& opts,
                                                             std::vector<std::string>* verified) {
  Quorum q = verify_quorum(crypto::kRevocationsType, body, sigs, trust, now, opts);
  if (verified) *verified = q.verified;
  if (!q.decision) {
    std::string why = q.decision.detail;
    if (q.decision.reason == DenyReason::ThresholdNotMet)
      why = "signed by " + why +
            " (trust store threshold; keys revoked by this list, unknown, expired or revoked "
            "keys do not count)";
    return revocation_list_invalid(origin, why);
  }
  std::set<std::string> ok;
  for (const TrustedKey* k : q.signers) ok.insert(k->key_id);
  return ok;
}

Decision RevocationList::verify(const TrustStore& trust, UnixTime now,
                                std::vector<std::string>* verified_signers) const {
  std::string origin = "(serial " + std::to_string(serial_) + ")";
  if (!verified_signers || from_index_) return verify_as(trust, now, origin);
  // As the full load does: every signature first, then the quorum without
  // the keys this list revokes, from the signatures verified.
  auto all = quorum_signers(body_, signatures_, trust, now, origin, QuorumOptions{}, verified_signers);
  if (!all) return all.error();
  QuorumOptions again;
  again.key_revoked = [this](const std::string& id) { return key_revoked(id); };
  again.preverified = verified_signers;
  auto ok = quorum_signers(body_, signatures_, trust, now, origin, again);
  if (!ok) return ok.error();
  return Decision::allow();
}

// The quorum over this list's signatures, its own key entries excluded.
// From the index, the verification done when it was built stands in, for
// the same public key only; a trusted key not verified then denies.
Decision RevocationList::verify_as(const TrustStore& trust, UnixTime now, const std::string& origin) const {
  QuorumOptions opts;
  opts.key_revoked = [this](const std::string& id) { return key_revoked(id); };
  if (from_index_) opts.preverified = &index_signers_;
  auto ok = quorum_signers(body_, signatures_, trust, now, origin, opts);
  if (!ok) return ok.error();
  return Decision::allow();
}

// ---- lookups ----

bool RevocationList::artifact_revoked(std::string_view digest) const {
  return set_ && set_->contains(RevocationKind::Artifact, digest);
}
bool RevocationList::key_revoked(std::string_view key_id) const {
  return set_ && set_->contains(RevocationKind::Key, key_id);
}

std::optional<RevocationEntry> RevocationList::find(std::string_view target) const {
  if (!set_) return std::nullopt;
  return set_->find(target);
}

Decision RevocationList::check(const std::string& artifact_digest,
                               const std::vector<std::string>& signer_key_ids) const {
  auto describe = [&](std::string_view target) {
    auto e = find(target);  // nullopt only if the index could not be read
    std::string s = e ? "revoked at " + format_utc(e->revoked_at) : std::string("revoked");
    if (e && !e->reason.empty()) s += " (" + e->reason + ")";
    return s + ", revocation list serial " + std::to_string(serial_);
  };
  if (artifact_revoked(artifact_digest))
    return Decision::deny(DenyReason::Revoked, "artifact " + artifact_digest + " was " + describe(artifact_digest),
                          "artifact", artifact_digest);
  if (signer_key_ids.empty()) return Decision::allow();
  for (const auto& id : signer_key_ids)
    if (!key_revoked(id)) return Decision::allow();
  return Decision::deny(DenyReason::Revoked,
                        "every trusted signature on artifact " + artifact_digest + " is by a revoked key; key " +
                            signer_key_ids.front() + " was " + describe(signer_key_ids.front()),
                        "signature.key_id", signer_key_ids.front());
}

std::string RevocationList::digest() const {
  return body_digest_.empty() ? "sha256:" + crypto::sha256_hex(body_) : body_digest_;
}

std::vector<RevocationEntry> RevocationList::entries() const {
  if (!set_) return {};
  auto all = set_->entries();
  return all ? all.take() : std::vector<RevocationEntry>{};  // on failure: empty (see the header)
}

// ---- building ----

Result<RevocationList> RevocationList::successor(const std::vector<RevocationEntry>& added, UnixTime now) const {
  RevocationBody next;
  next.serial = serial_ + 1;
  next.issued_at = now;
  if (set_) {
    auto mine = set_->entries();
    if (!mine) return mine.error();
    next.entries = mine.take();
  }
  next.entries.reserve(next.entries.size() + added.size());
  for (const auto& e : added) {
    if (!crypto::is_sha256_ref(e.target))
      return Decision::deny(DenyReason::Usage, "revocation target must be sha256:<64 hex digits>", "target", e.target);
    next.entries.push_back(e);
  }
  std::string body = render_revocation_body(next);
  auto list = from_body(std::move(next), std::move(body), "", {});
  if (!list) {
    Decision d = list.error();
    d.reason = DenyReason::Usage;
    d.detail += " (already revoked)";
    return d;
  }
  return list;
}

Decision RevocationList::add_signature(const crypto::PrivateKey& key) {
  auto sig = key.sign(crypto::kRevocationsType, body_);
  if (!sig) return sig.error();
  signatures_.push_back(Signature{key.public_key().key_id(), std::string(crypto::kAlgorithm), sig.take()});
  return Decision::allow();
}

std::string RevocationList::file_text() const {
  // Nothing may come between the body and the first "[[signature]]" line:
  // it would become part of the body.
  std::string out = body_;
  for (size_t i = 0; i < signatures_.size(); ++i) {
    if (i > 0) out += "\n";
    out += render_signature(signatures_[i]);
  }
  return out;
}

}  // namespace gx
