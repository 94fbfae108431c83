#include "lib/receipt_checkpoint.h"

#include <set>

#include "lib/receipt.h"

namespace gx {

using nlohmann::json;

json Checkpoint::to_json() const {
  return json{{"version", version}, {"origin", origin}, {"count", count}, {"head", head},
              {"time", time},       {"key_id", key_id}, {"sig", sig}};
}

std::string Checkpoint::text() const { return canonical_dump(to_json()) + "\n"; }

std::string Checkpoint::signed_body() const {
  json j = to_json();
  j.erase("sig");
  return canonical_dump(j);
}

Result<Checkpoint> Checkpoint::parse(std::string_view text) {
  if (text.size() > kCheckpointMaxBytes) return Decision::deny(DenyReason::TooLarge, "checkpoint is too large");
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Decision::deny(DenyReason::Malformed, "checkpoint is not a JSON object");
  static const std::set<std::string> keys = {"version", "origin", "count", "head", "time", "key_id", "sig"};
  for (const auto& [key, value] : j.items())
    if (!keys.count(key)) return Decision::deny(DenyReason::UnknownField, "unknown checkpoint field", key);
  for (const auto& key : keys)
    if (!j.contains(key)) return Decision::deny(DenyReason::MissingField, "checkpoint field missing", key);
  if (!j["version"].is_number_integer() || !j["count"].is_number_unsigned())
    return Decision::deny(DenyReason::WrongType, "checkpoint version/count must be integers", "count");
  for (const char* key : {"origin", "head", "time", "key_id", "sig"})
    if (!j[key].is_string()) return Decision::deny(DenyReason::WrongType, "checkpoint field is not a string", key);
  Checkpoint c;
  if (j["version"].get<int64_t>() != kCheckpointVersion)
    return Decision::deny(DenyReason::UnsupportedVersion, "checkpoint version is not supported", "version");
  c.count = j["count"].get<uint64_t>();
  c.origin = j["origin"].get<std::string>();
  c.head = j["head"].get<std::string>();
  c.time = j["time"].get<std::string>();
  c.key_id = j["key_id"].get<std::string>();
  c.sig = j["sig"].get<std::string>();
  if (!crypto::is_hex_sha256(c.head))
    return Decision::deny(DenyReason::InvalidValue, "checkpoint head is not a hex SHA-256", "head");
  return c;
}

bool Checkpoint::signature_valid(const crypto::PublicKey& key) const {
  auto raw = crypto::base64_decode(sig);
  return raw && key.verify(crypto::kCheckpointType, signed_body(), *raw);
}

}  // namespace gx
