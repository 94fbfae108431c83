#include "lib/envelope.h"

#include <algorithm>
#include <set>

#include "lib/signature_cache.h"
#include "lib/toml_reader.h"
#include "lib/trust_store.h"

namespace gx {

namespace {
// Where the first line that is exactly "[[signature]]" starts; size() if none.
size_t signature_block_offset(std::string_view bytes) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    size_t eol = bytes.find('\n', pos);
    size_t end = eol == std::string_view::npos ? bytes.size() : eol;
    if (bytes.substr(pos, end - pos) == kSignatureHeader) return pos;
    pos = end + 1;
  }
  return bytes.size();
}
}  // namespace

Result<ArtifactParts> split_artifact(std::string_view bytes) {
  size_t at = signature_block_offset(bytes);
  return ArtifactParts{std::string(bytes.substr(0, at)), std::string(bytes.substr(at))};
}

Result<ArtifactParts> split_artifact_buffer(std::string&& bytes) {
  size_t at = signature_block_offset(bytes);
  ArtifactParts parts;
  parts.signature_block = bytes.substr(at);
  bytes.resize(at);
  parts.body = std::move(bytes);
  return parts;
}

Result<std::vector<Signature>> parse_signatures(std::string_view block) {
  std::vector<Signature> out;
  if (block.empty()) return out;
  auto doc = parse_toml(block, "signature block");
  if (!doc) return doc.error();
  TableReader top(*doc, "");
  const toml::array* sigs = top.array("signature", true);
  if (Decision d = top.finish(); !d) return d;
  if (!sigs->is_array_of_tables())
    return Decision::deny(DenyReason::WrongType, "signature must be an array of tables", "signature");
  if (sigs->size() > kMaxSignatures)
    return Decision::deny(DenyReason::TooLarge, "more than " + std::to_string(kMaxSignatures) + " signatures",
                          "signature");
  for (size_t i = 0; i < sigs->size(); ++i) {
    TableReader r(*sigs->get(i)->as_table(), "signature[" + std::to_string(i) + "]");
    auto key_id = r.string("key_id", true);
    auto alg = r.string("algorithm", true);
    auto value = r.string("value", true);
    if (Decision d = r.finish(); !d) return d;
    if (*alg != crypto::kAlgorithm)
      return Decision::deny(DenyReason::UnsupportedAlgorithm,
                            "signature algorithm must be " + std::string(crypto::kAlgorithm), r.path("algorithm"),
                            *alg);
    if (!crypto::is_sha256_ref(*key_id))
      return Decision::deny(DenyReason::InvalidValue, "key_id must be sha256:<64 hex digits>", r.path("key_id"),
                            *key_id);
    auto raw = crypto::base64_decode(*value);
    if (!raw)
      return Decision::deny(DenyReason::InvalidValue, "signature value is not canonical base64", r.path("value"),
                            value->substr(0, 16));
    out.push_back(Signature{*key_id, *alg, raw.take()});
  }
  return out;
}

std::string render_signature(const Signature& s) {
  return std::string(kSignatureHeader) + "\nkey_id = " + toml_quote(s.key_id) +
         "\nalgorithm = " + toml_quote(s.algorithm) + "\nvalue = " + toml_quote(crypto::base64_encode(s.value)) + "\n";
}

Result<std::string> append_signature(std::string_view file_bytes, std::string_view type,
                                     const crypto::PrivateKey& key) {
  auto parts = split_artifact(file_bytes);
  if (!parts) return parts.error();
  auto sigs = parse_signatures(parts->signature_block);
  if (!sigs) return sigs.error();
  std::string body = parts->body;
  if (sigs->empty() && !body.empty() && body.back() != '\n') body += '\n';
  const std::string key_id = key.public_key().key_id();
  for (const auto& s : *sigs)
    if (s.key_id == key_id)
      return Decision::deny(DenyReason::DuplicateField, "already signed by this key (" + key_id + ")",
                            "signature.key_id", key_id);
  auto value = key.sign(type, body);
  if (!value) return value.error();
  Signature sig{key_id, std::string(crypto::kAlgorithm), value.take()};
  std::string out = body + parts->signature_block;
  if (!out.empty() && out.back() != '\n') out += '\n';
  out += render_signature(sig);
  // Read back what we are about to write: the new file must split to the same body and verify.
  auto check = split_artifact(out);
  auto check_sigs = check ? parse_signatures(check->signature_block) : Result<std::vector<Signature>>(check.error());
  if (!check || !check_sigs || check->body != body || check_sigs->size() != sigs->size() + 1 ||
      !key.public_key().verify(type, check->body, check_sigs->back().value))
    return Decision::deny(DenyReason::InvalidSignature, "self-check of the signed file failed");
  return out;
}

Quorum verify_quorum(std::string_view type, std::string_view body, const std::vector<Signature>& signatures,
                     const TrustStore& trust, UnixTime now, const QuorumOptions& opts) {
  Quorum q;
  std::set<std::string> counted;  // DER of distinct public keys
  Decision why_not;               // the most telling reason a signature did not count
  auto note = [&](const std::string& key_id, const std::string& reason, Decision d) {
    q.ignored.push_back(key_id + " (" + reason + ")");
    if (why_not.allowed() || why_not.reason == DenyReason::UntrustedKey) why_not = std::move(d);
  };
  for (const auto& sig : signatures) {
    const TrustedKey* tk = trust.find(sig.key_id);
    if (!tk) {
      note(sig.key_id, "untrusted",
           Decision::deny(DenyReason::UntrustedKey, "signed by " + sig.key_id + ", which is not in the trust store",
                          "signature.key_id", sig.key_id));
      continue;
    }
    // Every trusted key's signature is checked, usable or not: a bad one
    // means the body changed after that key signed, whatever else holds.
    crypto::SigStatus st = crypto::SigStatus::Ok;
    if (!opts.preverified) {
      if (opts.signature_cache && opts.signature_cache->known(tk->key, type, body, sig.value)) {
        st = crypto::SigStatus::Ok;
      } else {
        st = tk->key.check(type, body, sig.value);
        if (st == crypto::SigStatus::Ok && opts.signature_cache)
          opts.signature_cache->remember(tk->key, type, body, sig.value);
      }
    }
    bool ok = opts.preverified
                  ? std::find(opts.preverified->begin(), opts.preverified->end(), tk->key_id) != opts.preverified->end()
                  : st == crypto::SigStatus::Ok;
    if (!ok) {
      std::string why = opts.preverified ? " does not verify (not verified earlier)"
                        : st == crypto::SigStatus::Mismatch
                            ? " does not verify: the file was altered"
                            : " is refused: " + std::string(crypto::sig_status_text(st));
      q.decision =
          Decision::deny(DenyReason::InvalidSignature, "signature by " + tk->name + " (" + sig.key_id + ")" + why,
                         "signature.value", sig.key_id);
      q.signers.clear();
      return q;
    }
    q.verified.push_back(tk->key_id);
    if (Decision d = tk->usable_at(now, trust.skew_seconds); !d) {
      note(sig.key_id, d.reason == DenyReason::KeyRevoked ? "revoked in trust store" : "outside key validity", d);
      continue;
    }
    if (opts.key_revoked && opts.key_revoked(tk->key_id)) {
      note(sig.key_id, "revoked",
           Decision::deny(DenyReason::Revoked,
                          "key of " + tk->name + " (" + sig.key_id + ") is revoked by the revocation list",
                          "signature.key_id", sig.key_id));
      continue;
    }
    // Distinct public keys only: the same key listed twice counts once.
    if (counted.insert(tk->key.der()).second) q.signers.push_back(tk);
    else q.ignored.push_back(sig.key_id + " (duplicate)");
  }
  const size_t needed = static_cast<size_t>(std::max(trust.threshold, 1));
  if (counted.size() >= needed) {
    q.decision = Decision::allow();
  } else if (counted.empty() && !why_not.allowed()) {
    q.decision = why_not;
  } else {
    q.decision = Decision::deny(
        DenyReason::ThresholdNotMet,
        std::to_string(counted.size()) + " distinct trusted signature(s), " + std::to_string(needed) + " required",
        "signature", std::to_string(counted.size()));
  }
  return q;
}

}  // namespace gx
