#include "lib/signed_file.h"

#include "lib/artifact.h"

namespace gx {

Result<std::string> append_signature(std::string_view file_bytes, std::string_view type, const crypto::PrivateKey& key) {
  auto parts = split_artifact(file_bytes);
  if (!parts) return parts.error();
  auto sigs = parse_signatures(parts->signature_block);
  if (!sigs) return sigs.error();
  std::string body = parts->body;
  if (sigs->empty() && !body.empty() && body.back() != '\n') body += '\n';
  const std::string key_id = key.public_key().key_id();
  for (const auto& s : *sigs)
    if (s.key_id == key_id)
      return Decision::deny(DenyReason::DuplicateField, "already signed by this key (" + key_id + ")", "signature.key_id", key_id);
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

}  // namespace gx
