#include "lib/receipt_checkpoint.h"

#include <set>

#include "lib/receipt.h"

namespace gx {

using nlohmann::json;

json Checkpoint::to_json() const {
  json j{{"version", version}, {"origin", origin}, {"count", count}, {"head", head},
         {"time", time},       {"key_id", key_id}, {"sig", sig}};
  // A version 1 checkpoint's signed bytes have no offset.
  if (version >= 2) j["offset"] = offset;
  return j;
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
  // The version first: it decides which fields belong.
  if (!j.contains("version")) return Decision::deny(DenyReason::MissingField, "checkpoint field missing", "version");
  if (!j["version"].is_number_integer())
    return Decision::deny(DenyReason::WrongType, "checkpoint version must be an integer", "version");
  const int64_t version = j["version"].get<int64_t>();
  if (version < kCheckpointVersionOldest || version > kCheckpointVersion)
    return Decision::deny(DenyReason::UnsupportedVersion,
                          "checkpoint version " + std::to_string(version) + " is not supported (this gx reads " +
                              std::to_string(kCheckpointVersionOldest) + " to " + std::to_string(kCheckpointVersion) +
                              ")",
                          "version", std::to_string(version));
  std::set<std::string> keys = {"version", "origin", "count", "head", "time", "key_id", "sig"};
  if (version >= 2) keys.insert("offset");
  for (const auto& [key, value] : j.items())
    if (!keys.count(key)) return Decision::deny(DenyReason::UnknownField, "unknown checkpoint field", key);
  for (const auto& key : keys)
    if (!j.contains(key)) return Decision::deny(DenyReason::MissingField, "checkpoint field missing", key);
  if (!j["count"].is_number_unsigned())
    return Decision::deny(DenyReason::WrongType, "checkpoint count must be an unsigned integer", "count");
  if (version >= 2 && !j["offset"].is_number_unsigned())
    return Decision::deny(DenyReason::WrongType, "checkpoint offset must be an unsigned integer", "offset");
  for (const char* key : {"origin", "head", "time", "key_id", "sig"})
    if (!j[key].is_string()) return Decision::deny(DenyReason::WrongType, "checkpoint field is not a string", key);
  Checkpoint c;
  c.version = static_cast<int>(version);
  c.count = j["count"].get<uint64_t>();
  if (version >= 2) {
    c.offset = j["offset"].get<uint64_t>();
    // Receipt `count` ends past its own bytes; nothing ends before line 1.
    if ((c.count == 0) != (c.offset == 0))
      return Decision::deny(
          DenyReason::InvalidValue,
          "checkpoint offset " + std::to_string(c.offset) + " cannot end receipt " + std::to_string(c.count), "offset",
          std::to_string(c.offset));
  }
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
